/**
 * `meshwork get <kind> [name] [-n ns | -A] [-o yaml|json|name]`: resources
 * (`GET /v1/resources`) and registered workloads (`GET /v1/workloads`) as kubectl shows them.
 */
import { CONNECTION_OPTIONS, ControlError, withControl, type ControlClient } from './client.js';
import { displayKind, kindList, resolveKind, type KindInfo } from './kinds.js';
import { age, renderTable } from './table.js';
import { toYaml } from './yaml-out.js';
import { parse } from './main.js';
import { EXIT, UsageError, type Io } from './io.js';

type Obj = Record<string, unknown>;
type Output = 'table' | 'yaml' | 'json' | 'name';

const WORKLOAD_NAMES = new Set(['workload', 'workloads']);

export interface StoredObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; resourceVersion?: string; generation?: number; [k: string]: unknown };
  spec?: unknown;
  [k: string]: unknown;
}

export interface WorkloadItem {
  id: string;
  namespace: string;
  name: string;
  address: string;
  serviceAccount: string;
  group?: string | undefined;
  healthy: boolean;
  lastHeartbeatMs: number;
  [k: string]: unknown;
}

export async function getCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    namespace: { type: 'string', short: 'n' },
    'all-namespaces': { type: 'boolean', short: 'A' },
    output: { type: 'string', short: 'o' },
    json: { type: 'boolean' },
    ...CONNECTION_OPTIONS,
  });
  const [kindName, name, extra] = positionals;
  if (!kindName) throw new UsageError(`get needs a kind: workloads, ${kindList()}`);
  if (extra !== undefined) throw new UsageError('get takes a kind and at most one name');
  const all = values['all-namespaces'] === true;
  if (all && values.namespace !== undefined) throw new UsageError('give -n <namespace> or -A, not both');
  if (all && name !== undefined) throw new UsageError('a name is looked up in one namespace: use -n <namespace> instead of -A');
  const output = outputOf(values.output, values.json === true);
  const namespace = all ? undefined : values.namespace ?? 'default';
  const flags = { ...values, json: output === 'json' };

  if (WORKLOAD_NAMES.has(kindName.toLowerCase())) return withControl(flags, io, (c) => getWorkloads(c, io, output, namespace, name));
  const kind = resolveKind(kindName);
  if (!kind) throw new UsageError(`unknown kind "${kindName}"; known: workloads, ${kindList()}`);
  return withControl(flags, io, (c) => getResources(c, io, output, kind, namespace, name));
}

function outputOf(o: string | undefined, json: boolean): Output {
  if (json && o !== undefined && o !== 'json') throw new UsageError(`--json and -o ${o} contradict each other: give one`);
  if (json || o === 'json') return 'json';
  if (o === undefined) return 'table';
  if (o === 'yaml' || o === 'name') return o;
  throw new UsageError(`-o: "${o}" is not one of yaml, json, name`);
}

async function getResources(client: ControlClient, io: Io, output: Output, kind: KindInfo, namespace: string | undefined, name: string | undefined): Promise<number> {
  let items: StoredObject[];
  let revision: number | undefined;
  if (name !== undefined) {
    items = [await client.request<StoredObject>('GET', `/v1/resources/${encodeURIComponent(kind.kind)}/${encodeURIComponent(namespace!)}/${encodeURIComponent(name)}`)];
  } else {
    const reply = await client.request<{ revision: number; items: StoredObject[] }>('GET', '/v1/resources', { query: { kind: kind.kind, namespace } });
    ({ items, revision } = reply);
  }
  switch (output) {
    case 'json':
      io.out(JSON.stringify(name !== undefined ? items[0] : { apiVersion: 'v1', kind: 'List', metadata: { resourceVersion: String(revision) }, items }, null, 2) + '\n');
      return EXIT.ok;
    case 'yaml':
      io.out(items.map(toYaml).join('---\n'));
      break;
    case 'name':
      io.out(items.map((o) => `${displayKind(o.kind)}/${o.metadata.name}\n`).join(''));
      break;
    case 'table':
      if (items.length > 0) io.out(renderResourceTable(items, namespace === undefined, Date.now()));
  }
  if (items.length === 0) io.err(noneFound(namespace));
  return EXIT.ok;
}

async function getWorkloads(client: ControlClient, io: Io, output: Output, namespace: string | undefined, name: string | undefined): Promise<number> {
  const reply = await client.request<{ ttlMs: number; items: WorkloadItem[] }>('GET', '/v1/workloads', { query: { namespace } });
  // The control service keeps workloads by id; a name is matched here.
  const items = reply.items.filter((w) => (namespace === undefined || w.namespace === namespace) && (name === undefined || w.name === name || w.id === name));
  if (name !== undefined && items.length === 0) {
    throw new ControlError(`workload "${name}" not found in namespace "${namespace}"`, { status: 404, code: 'not_found', url: client.display });
  }
  switch (output) {
    case 'json':
      io.out(JSON.stringify(name !== undefined ? items[0] : { ttlMs: reply.ttlMs, items }, null, 2) + '\n');
      return EXIT.ok;
    case 'yaml':
      io.out(items.map(toYaml).join('---\n'));
      break;
    case 'name':
      io.out(items.map((w) => `workload/${w.name}\n`).join(''));
      break;
    case 'table':
      if (items.length > 0) io.out(renderWorkloadTable(items, namespace === undefined, Date.now()));
  }
  if (items.length === 0) io.err(noneFound(namespace));
  return EXIT.ok;
}

function noneFound(namespace: string | undefined): string {
  return namespace === undefined ? 'No resources found\n' : `No resources found in ${namespace} namespace.\n`;
}

function field(o: unknown, ...path: string[]): unknown {
  let v = o;
  for (const p of path) v = v && typeof v === 'object' ? (v as Obj)[p] : undefined;
  return v;
}

function cell(v: unknown): string {
  if (v === undefined || v === null) return '';
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** The columns Istio's CRDs print (additionalPrinterColumns), and ports for a Service. */
const COLUMNS: Record<string, Array<[string, (o: StoredObject) => unknown]>> = {
  VirtualService: [['GATEWAYS', (o) => field(o.spec, 'gateways')], ['HOSTS', (o) => field(o.spec, 'hosts')]],
  DestinationRule: [['HOST', (o) => field(o.spec, 'host')]],
  ServiceEntry: [['HOSTS', (o) => field(o.spec, 'hosts')], ['LOCATION', (o) => field(o.spec, 'location')], ['RESOLUTION', (o) => field(o.spec, 'resolution')]],
  PeerAuthentication: [['MODE', (o) => field(o.spec, 'mtls', 'mode')]],
  AuthorizationPolicy: [['ACTION', (o) => field(o.spec, 'action')]],
  WorkloadEntry: [['ADDRESS', (o) => field(o.spec, 'address')]],
  Service: [['PORTS', (o) => ((field(o.spec, 'ports') as Obj[] | undefined) ?? []).map((p) => `${String(p.port)}/${String(p.protocol ?? 'TCP')}`).join(',')]],
};

/**
 * NAME (NAMESPACE first with -A), the kind's own columns, RESOURCEVERSION (what optimistic
 * concurrency compares), and AGE when the objects carry a creationTimestamp.
 */
export function renderResourceTable(items: readonly StoredObject[], allNamespaces: boolean, nowMs: number): string {
  const cols = COLUMNS[items[0]?.kind ?? ''] ?? [];
  const created = (o: StoredObject) => Date.parse(String(o.metadata.creationTimestamp ?? ''));
  const withAge = items.some((o) => !Number.isNaN(created(o)));
  const headers = [...(allNamespaces ? ['NAMESPACE'] : []), 'NAME', ...cols.map(([h]) => h), 'RESOURCEVERSION', ...(withAge ? ['AGE'] : [])];
  const rows = items.map((o) => [
    ...(allNamespaces ? [o.metadata.namespace] : []),
    o.metadata.name,
    ...cols.map(([, get]) => cell(get(o))),
    String(o.metadata.resourceVersion ?? ''),
    ...(withAge ? [Number.isNaN(created(o)) ? '<unknown>' : age(nowMs - created(o))] : []),
  ]);
  return renderTable(headers, rows);
}

export function renderWorkloadTable(items: readonly WorkloadItem[], allNamespaces: boolean, nowMs: number): string {
  const headers = [...(allNamespaces ? ['NAMESPACE'] : []), 'NAME', 'ADDRESS', 'SERVICEACCOUNT', 'GROUP', 'HEALTHY', 'LAST HEARTBEAT'];
  const rows = items.map((w) => [
    ...(allNamespaces ? [w.namespace] : []),
    w.name,
    w.address,
    w.serviceAccount,
    w.group ?? '',
    w.healthy ? 'yes' : 'no',
    `${age(nowMs - w.lastHeartbeatMs)} ago`,
  ]);
  return renderTable(headers, rows);
}
