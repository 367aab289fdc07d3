/**
 * The workloads part of API v1: registration with Istio's WorkloadEntry auto-registration
 * semantics (a WorkloadGroup stored through the resources API is the template), heartbeats
 * with a TTL, deregistration and a list with computed health.
 */
import type { IncomingMessage } from 'node:http';
import { isHealthy } from '../registry-view.js';
import type { ControlStore, Workload, WorkloadInput } from '../store/types.js';
import { forbidden, type Principal } from './auth.js';
import { ApiError, mediaType } from './http.js';
import type { JsonReply } from './resources.js';

export interface WorkloadApiOptions {
  heartbeatTtlMs: number;
  now: () => number;
  /** The CA's trust domain, told to registering workloads (undefined without a CA). */
  trustDomain?: string | undefined;
}

/** Istio: the locality label is carried in `locality`, never kept among the labels. */
const LOCALITY_LABEL = 'istio-locality';
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const REGISTER_FIELDS = new Set(['group', 'address', 'ports', 'labels', 'locality', 'serviceAccount', 'name']);

type Obj = Record<string, unknown>;

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function bad(message: string, extra: Obj = {}): ApiError {
  return new ApiError(400, 'invalid', message, extra);
}

/** Checks the content type before the body is read (415). */
export function requireJson(req: IncomingMessage): void {
  const type = mediaType(req.headers['content-type']);
  if (type !== 'application/json') {
    throw new ApiError(415, 'unsupported_media_type', `content-type ${type ? `"${type}"` : '(none)'} is not accepted here`, { accepted: ['application/json'] }, { accept: 'application/json' });
  }
}

function stringMap(v: unknown, field: string): Record<string, string> {
  if (v === undefined || v === null) return {};
  if (!isObj(v) || !Object.values(v).every((x) => typeof x === 'string')) throw bad(`${field} must be an object of name → string`);
  return { ...(v as Record<string, string>) };
}

function portMap(v: unknown, field: string): Record<string, number> {
  if (v === undefined || v === null) return {};
  if (!isObj(v) || !Object.values(v).every((x) => Number.isInteger(x) && (x as number) > 0 && (x as number) < 65536)) {
    throw bad(`${field} must be an object of port name → port number (1-65535)`);
  }
  return { ...(v as Record<string, number>) };
}

function optString(v: unknown, field: string): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw bad(`${field} must be a string`);
  return v;
}

interface RegisterRequest {
  namespace: string;
  groupName: string;
  address: string;
  ports: Record<string, number>;
  labels: Record<string, string>;
  locality: string | undefined;
  serviceAccount: string | undefined;
  name: string | undefined;
}

function parseRegister(body: Buffer): RegisterRequest {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new ApiError(400, 'malformed', `invalid JSON: ${(e as Error).message}`);
  }
  if (!isObj(v)) throw bad('the body must be a JSON object { group, address, ports?, labels?, locality?, serviceAccount?, name? }');
  const unknown = Object.keys(v).filter((k) => !REGISTER_FIELDS.has(k));
  if (unknown.length > 0) throw bad(`unknown field${unknown.length === 1 ? '' : 's'}: ${unknown.slice(0, 5).join(', ')}`, { allowed: [...REGISTER_FIELDS] });
  const group = v.group;
  const m = typeof group === 'string' ? /^([^/]+)\/([^/]+)$/.exec(group) : null;
  if (!m) throw bad('group must be "<namespace>/<WorkloadGroup name>"');
  const address = v.address;
  if (typeof address !== 'string' || address === '' || address.length > 253 || /[\s/]/.test(address)) throw bad('address must be an IP address or host name');
  const name = optString(v.name, 'name');
  if (name !== undefined && (name.length > 253 || !DNS1123_SUBDOMAIN.test(name))) throw bad(`name "${name.slice(0, 80)}" is not a valid DNS-1123 subdomain`);
  return {
    namespace: m[1]!,
    groupName: m[2]!,
    address,
    ports: portMap(v.ports, 'ports'),
    labels: stringMap(v.labels, 'labels'),
    locality: optString(v.locality, 'locality'),
    serviceAccount: optString(v.serviceAccount, 'serviceAccount'),
    name,
  };
}

/** Istio (autoregistration: autoregisteredWorkloadEntryName): `<group>-<address>[-<network>]`, ':' → '-'. */
export function autoRegisteredName(groupName: string, address: string, network?: string): string {
  let name = `${groupName}-${address}`;
  if (network) name += `-${network}`;
  if (name.length > 253) name = name.slice(name.length - 253);
  return name.replace(/:/g, '-');
}

/**
 * Builds the workload from its WorkloadGroup as Istio builds an auto-registered
 * WorkloadEntry (workloadEntryFromGroup): the template, then the group's metadata labels,
 * then the registration's labels (later wins); the registration's locality overrides the
 * template's; the namespace is the group's.
 */
/** The service account of a WorkloadGroup's template (Istio: `default` when unset). */
export function templateServiceAccount(groupSpec: Obj): string {
  const template = isObj(groupSpec.template) ? groupSpec.template : {};
  return typeof template.serviceAccount === 'string' && template.serviceAccount !== '' ? template.serviceAccount : 'default';
}

export function workloadFromGroup(groupSpec: Obj, r: RegisterRequest): WorkloadInput {
  const template = isObj(groupSpec.template) ? groupSpec.template : {};
  const meta = isObj(groupSpec.metadata) ? groupSpec.metadata : {};
  const templateSa = templateServiceAccount(groupSpec);
  if (r.serviceAccount !== undefined && r.serviceAccount !== templateSa) {
    throw bad(`serviceAccount "${r.serviceAccount}" differs from the service account of WorkloadGroup ${r.namespace}/${r.groupName} ("${templateSa}"); a workload cannot claim another identity`, {
      group: `${r.namespace}/${r.groupName}`,
    });
  }
  const labels: Record<string, string> = { ...stringMapLoose(template.labels), ...stringMapLoose(meta.labels), ...r.labels };
  delete labels[LOCALITY_LABEL];
  const network = typeof template.network === 'string' && template.network !== '' ? template.network : undefined;
  const weight = Number.isInteger(template.weight) && (template.weight as number) > 0 ? (template.weight as number) : undefined;
  const name = r.name ?? autoRegisteredName(r.groupName, r.address, network);
  const w: WorkloadInput = {
    id: `${r.namespace}/${name}`,
    namespace: r.namespace,
    name,
    address: r.address,
    ports: { ...numberMapLoose(template.ports), ...r.ports },
    labels,
    serviceAccount: templateSa,
    locality: r.locality ?? (typeof template.locality === 'string' ? template.locality : ''),
    group: `${r.namespace}/${r.groupName}`,
  };
  if (network !== undefined) w.network = network;
  if (weight !== undefined) w.weight = weight;
  return w;
}

// Object.fromEntries: every key an own property, `__proto__` included (`out[k] = ...` would set the prototype).
function stringMapLoose(v: unknown): Record<string, string> {
  return isObj(v) ? Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string')) : {};
}

function numberMapLoose(v: unknown): Record<string, number> {
  return isObj(v) ? Object.fromEntries(Object.entries(v).filter((e): e is [string, number] => Number.isInteger(e[1]) && (e[1] as number) > 0 && (e[1] as number) < 65536)) : {};
}

function withHealth(w: Workload, o: WorkloadApiOptions): Workload & { healthy: boolean } {
  return { ...w, healthy: isHealthy(w, { nowMs: o.now(), ttlMs: o.heartbeatTtlMs }) };
}

function notFound(id: string): ApiError {
  return new ApiError(404, 'not_found', `workload ${id} is not registered`, { workload: id });
}

export async function registerWorkload(store: ControlStore, body: Buffer, o: WorkloadApiOptions, principal: Principal = { kind: 'admin' }): Promise<JsonReply> {
  const r = parseRegister(body);
  // A join token registers only into a WorkloadGroup of its own namespace (checked before
  // the lookup, so other namespaces' groups do not even show whether they exist).
  if (principal.kind === 'join' && r.namespace !== principal.namespace) {
    throw forbidden(principal, `register into WorkloadGroup ${r.namespace}/${r.groupName} (namespace "${r.namespace}")`);
  }
  const group = await store.get({ kind: 'WorkloadGroup', namespace: r.namespace, name: r.groupName });
  if (!group) {
    throw new ApiError(404, 'not_found', `WorkloadGroup ${r.namespace}/${r.groupName} does not exist; apply it through /v1/resources:apply before registering against it`, {
      resource: `WorkloadGroup/${r.namespace}/${r.groupName}`,
    });
  }
  const spec = isObj(group.spec) ? group.spec : {};
  // ... and only with its own service account: the group's template decides the identity.
  if (principal.kind === 'join') {
    const sa = templateServiceAccount(spec);
    if (sa !== principal.serviceAccount) throw forbidden(principal, `register into WorkloadGroup ${r.namespace}/${r.groupName}, whose service account is "${sa}"`);
  }
  const input = workloadFromGroup(spec, r);
  await store.upsertWorkload(input, o.now());
  const stored = await store.getWorkload(input.id);
  if (!stored) throw notFound(input.id); // deregistered meanwhile
  return { status: 200, body: { id: stored.id, revision: stored.revision, workload: withHealth(stored, o), ...(o.trustDomain !== undefined ? { trustDomain: o.trustDomain } : {}) } };
}

export async function heartbeatWorkload(store: ControlStore, id: string, o: WorkloadApiOptions): Promise<JsonReply> {
  if (!(await store.heartbeat(id, o.now()))) throw notFound(id);
  return { status: 200, body: { id, ttlMs: o.heartbeatTtlMs } };
}

export async function deregisterWorkload(store: ControlStore, id: string): Promise<JsonReply> {
  if (!(await store.deleteWorkload(id))) throw notFound(id);
  return { status: 200, body: { id, status: 'deleted' } };
}

export async function listWorkloadsReply(store: ControlStore, query: URLSearchParams, o: WorkloadApiOptions): Promise<JsonReply> {
  const namespace = query.get('namespace') || undefined;
  const items = (await store.listWorkloads())
    .filter((w) => namespace === undefined || w.namespace === namespace)
    .sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .map((w) => withHealth(w, o));
  return { status: 200, body: { ttlMs: o.heartbeatTtlMs, items } };
}

/** The namespace part of a workload id (`<namespace>/<name>`), for authorization. */
export function namespaceOfId(id: string): string | undefined {
  const i = id.indexOf('/');
  return i > 0 ? id.slice(0, i) : undefined;
}
