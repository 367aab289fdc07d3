/**
 * The watch part of API v1: a server-sent-events stream of a workload's snapshot (the full
 * snapshot first, then every new version; resume with Last-Event-ID), the workload's
 * ACK/NACK of each version it applied, and the per-workload sync status.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { deflateRawSync } from 'node:zlib';
import type { WireAck } from '@meshwork/policy';
import type { BuiltSnapshot, SnapshotHub } from '../snapshots.js';
import type { ControlStore } from '../store/types.js';
import { ApiError } from './http.js';
import type { JsonReply } from './resources.js';

/** A comment line this often keeps proxies and the client's idle timer from closing the stream. */
export const DEFAULT_WATCH_HEARTBEAT_MS = 15_000;
/** SSE `retry:` hint: how soon an EventSource reconnects after the stream drops. */
const RETRY_HINT_MS = 1000;
const MAX_VERSION_LENGTH = 128;
const MAX_ACK_ERROR_LENGTH = 4096;

export interface WatchOptions {
  hub: SnapshotHub;
  store: ControlStore;
  heartbeatMs: number;
}

/**
 * The snapshot event of a build, encoded once and shared by every stream of its namespace: a
 * push to 1,000 watchers writes the same bytes 1,000 times instead of building and encoding a
 * string of the whole snapshot per watcher.
 */
const events = new WeakMap<BuiltSnapshot, Buffer>();
const deflatedEvents = new WeakMap<BuiltSnapshot, Buffer>();

/** The request header a watcher sends to get `snapshot-deflate` events. */
export const SNAPSHOT_ENCODING_HEADER = 'x-meshwork-snapshot-encoding';

/**
 * `text` in a Buffer of its own. Buffer.from() puts anything under half of Buffer.poolSize
 * (64 KB in Node 24) in a slice of a shared 64 KB slab, and a kept event (~10 KB compressed)
 * would keep its whole slab alive: 50 namespaces' events held ~3 MB for ~0.6 MB of data.
 */
function ownBuffer(text: string): Buffer {
  const buf = Buffer.allocUnsafeSlow(Buffer.byteLength(text, 'utf8'));
  buf.write(text, 'utf8');
  return buf;
}

function snapshotEvent(built: BuiltSnapshot): Buffer {
  let event = events.get(built);
  if (!event) {
    event = ownBuffer(`id: ${built.snapshot.version}\nevent: snapshot\ndata: ${built.json}\n\n`);
    events.set(built, event);
  }
  return event;
}

/**
 * The same snapshot compressed, for watchers that ask (`x-meshwork-snapshot-encoding: deflate`):
 * `{"version","revision","encoding":"deflate","data":<base64 of raw DEFLATE of the snapshot's
 * JSON>}`. A snapshot is mostly WorkloadEntries that repeat their shape, so it shrinks about
 * tenfold (base64 included); compressed once per build and shared like the plain event, so a
 * push to 1,000 watchers encrypts and sends a tenth of the bytes (the push's cost, measured).
 */
function deflatedEvent(built: BuiltSnapshot): Buffer {
  let event = deflatedEvents.get(built);
  if (!event) {
    // Fastest level: a push compresses every namespace's view at once, and level 1 keeps most of the gain.
    const data = deflateRawSync(Buffer.from(built.json, 'utf8'), { level: 1 }).toString('base64');
    const body = JSON.stringify({ version: built.snapshot.version, revision: built.snapshot.revision, encoding: 'deflate', data });
    event = ownBuffer(`id: ${built.snapshot.version}\nevent: snapshot-deflate\ndata: ${body}\n\n`);
    deflatedEvents.set(built, event);
  }
  return event;
}

/**
 * Serves `GET /v1/workloads/{id}:watch` on `res` until the client goes away or the workload
 * is deregistered. Versions are content hashes, so Last-Event-ID equal to the current
 * version means the client is in sync: it gets an `unchanged` event instead of the
 * snapshot again.
 */
export async function serveWatch(req: IncomingMessage, res: ServerResponse, id: string, o: WatchOptions): Promise<void> {
  const workload = await o.store.getWorkload(id);
  if (!workload) throw new ApiError(404, 'not_found', `workload ${id} is not registered; register it (POST /v1/workloads:register) before watching`, { workload: id });
  const first = await o.hub.snapshotFor(workload.namespace);
  res.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no',
    'x-content-type-options': 'nosniff',
  });
  res.socket?.setNoDelay(true);
  // The request timeouts of the server must not cut a stream that is meant to stay open.
  req.socket.setTimeout(0);

  const deflate = String(req.headers[SNAPSHOT_ENCODING_HEADER] ?? '').split(',').some((e) => e.trim().toLowerCase() === 'deflate');
  let lastSent: string | undefined;
  let pending: BuiltSnapshot | undefined;
  let open = true;

  const write = (built: BuiltSnapshot, resumed: boolean): void => {
    const v = built.snapshot.version;
    if (v === lastSent) return;
    // A slow reader gets only the newest version once it drains, never a backlog.
    if (res.writableNeedDrain) {
      pending = built;
      return;
    }
    lastSent = v;
    o.hub.markSent(id, v);
    if (resumed) res.write(`id: ${v}\nevent: unchanged\ndata: ${JSON.stringify({ version: v, revision: built.snapshot.revision })}\n\n`);
    else res.write(deflate ? deflatedEvent(built) : snapshotEvent(built));
  };
  res.on('drain', () => {
    const p = pending;
    pending = undefined;
    if (p && open) write(p, false);
  });

  res.write(`retry: ${RETRY_HINT_MS}\n\n`);
  const lastEventId = req.headers['last-event-id'];
  write(first, typeof lastEventId === 'string' && lastEventId === first.snapshot.version);

  const sub = o.hub.watch({
    workloadId: id,
    namespace: workload.namespace,
    send: (built) => {
      if (open) write(built, false);
    },
    end: () => res.end(),
  });
  // A refresh may have swapped in newer inputs after `first` was built and before this
  // watcher existed; it pushed to the others only. `write` skips a version already sent.
  const latest = o.hub.latest(workload.namespace);
  if (latest) write(latest, false);
  const beat = setInterval(() => {
    if (!res.writableNeedDrain) res.write(': heartbeat\n\n');
  }, o.heartbeatMs);
  beat.unref();
  const close = (): void => {
    if (!open) return;
    open = false;
    clearInterval(beat);
    sub.dispose();
  };
  res.on('close', close);
  req.on('close', close);
}

function parseAck(body: Buffer): WireAck {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new ApiError(400, 'malformed', `invalid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ApiError(400, 'invalid', 'the body must be a JSON object { version, error? }');
  const o = v as Record<string, unknown>;
  const extra = Object.keys(o).filter((k) => k !== 'version' && k !== 'error');
  if (extra.length > 0) throw new ApiError(400, 'invalid', `unknown field${extra.length === 1 ? '' : 's'}: ${extra.slice(0, 5).join(', ')}`, { allowed: ['version', 'error'] });
  if (typeof o.version !== 'string' || o.version === '' || o.version.length > MAX_VERSION_LENGTH) throw new ApiError(400, 'invalid', `version must be a non-empty string of at most ${MAX_VERSION_LENGTH} characters`);
  if (o.error !== undefined && typeof o.error !== 'string') throw new ApiError(400, 'invalid', 'error must be a string (the reason the version was rejected)');
  const ack: WireAck = { version: o.version };
  // An SDK's error text can be long (every diagnostic); status needs the gist.
  if (typeof o.error === 'string') ack.error = o.error.slice(0, MAX_ACK_ERROR_LENGTH);
  return ack;
}

/** `POST /v1/workloads/{id}:ack`. */
export async function ackWorkload(store: ControlStore, id: string, body: Buffer, nowMs: number): Promise<JsonReply> {
  const ack = parseAck(body);
  if (!(await store.getWorkload(id))) throw new ApiError(404, 'not_found', `workload ${id} is not registered`, { workload: id });
  await store.recordAck({ workload: id, version: ack.version, nack: ack.error, atMs: nowMs });
  return { status: 200, body: { id, version: ack.version, ack: ack.error === undefined ? 'ACK' : 'NACK' } };
}

/** `GET /v1/status[?namespace=]`. */
export async function statusReply(hub: SnapshotHub, query: URLSearchParams): Promise<JsonReply> {
  return { status: 200, body: await hub.status(query.get('namespace') || undefined) };
}
