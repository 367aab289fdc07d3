/**
 * `meshwork status [-n ns]`: per workload, whether it runs the configuration the control
 * service would send now (`GET /v1/status`), like `istioctl proxy-status`.
 */
import type { SyncState, WireWorkloadStatus } from '@meshwork/policy';
import { CONNECTION_OPTIONS, ControlError, withControl } from './client.js';
import { age, renderTable } from './table.js';
import { parse } from './main.js';
import { EXIT, UsageError, type Io } from './io.js';

/** The answer of `GET /v1/status`. */
export interface StatusReply {
  revision: number;
  items: WireWorkloadStatus[];
}

const STATES: readonly SyncState[] = ['SYNCED', 'STALE', 'NACKED', 'NOT SENT'];

export async function statusCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { namespace: { type: 'string', short: 'n' }, json: { type: 'boolean' }, ...CONNECTION_OPTIONS });
  if (positionals.length > 0) throw new UsageError(`status takes no arguments; got "${positionals[0]}"`);
  const namespace = values.namespace;
  return withControl(values, io, async (client) => {
    let reply: StatusReply;
    try {
      reply = await client.request<StatusReply>('GET', '/v1/status', { query: { namespace } });
    } catch (e) {
      if (e instanceof ControlError && e.status === 404) {
        throw new ControlError(`the control service at ${client.display} does not serve GET /v1/status (an older version?)`, { status: 404, code: e.code, url: e.url, body: e.body });
      }
      throw e;
    }
    const items = reply.items.filter((w) => namespace === undefined || w.namespace === namespace);
    if (values.json) {
      io.out(JSON.stringify({ revision: reply.revision, items }, null, 2) + '\n');
      return EXIT.ok;
    }
    if (items.length === 0) io.err(namespace === undefined ? 'No workloads registered.\n' : `No workloads in ${namespace} namespace.\n`);
    else io.out(renderStatus({ revision: reply.revision, items }, Date.now()));
    return EXIT.ok;
  });
}

/** Versions are content hashes: their first 12 characters tell them apart. */
function short(v: string | undefined): string {
  return v ? v.slice(0, 12) : '-';
}

/** The table, each NACK's error under it, and a count per state. Pure: the clock is a parameter. */
export function renderStatus(reply: StatusReply, nowMs: number): string {
  const rows = reply.items.map((w) => [
    w.id,
    w.state,
    w.connected ? 'yes' : 'no',
    w.healthy ? 'yes' : 'no',
    short(w.currentVersion),
    short(w.sentVersion),
    short(w.ackedVersion),
    w.lastAckAt ? `${age(nowMs - Date.parse(w.lastAckAt))} ago` : '-',
  ]);
  let out = renderTable(['NAME', 'STATE', 'CONNECTED', 'HEALTHY', 'CURRENT', 'SENT', 'ACKED', 'LAST ACK'], rows);
  for (const w of reply.items) {
    if (w.state === 'NACKED') out += `\n${w.id} rejected ${short(w.nackedVersion)}: ${w.nackError ?? '(no error given)'}\n`;
  }
  const counts = STATES.map((s) => [s, reply.items.filter((w) => w.state === s).length] as const).filter(([, n]) => n > 0);
  out += `\nrevision ${reply.revision}: ${reply.items.length} workload(s), ${counts.map(([s, n]) => `${n} ${s}`).join(', ')}\n`;
  return out;
}
