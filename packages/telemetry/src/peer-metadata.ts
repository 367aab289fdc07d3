/**
 * Workload metadata exchange over HTTP, compatible with Istio's sidecars, so that a Meshwork
 * workload and an Envoy sidecar learn who is on the other side and label their metrics with it
 * (`source_workload`, `destination_app`, ...).
 *
 * Istio's peer_metadata HTTP filter (istio/proxy source/extensions/filters/http/peer_metadata,
 * now envoyproxy/envoy contrib/istio/filters/http/peer_metadata) uses two headers:
 *
 * - `x-envoy-peer-metadata`: base64 (with padding; decoding accepts it without) of a serialized
 *   `google.protobuf.Struct`, built by metadata_object.cc `convertWorkloadMetadataToStruct`:
 *   `NAME` (instance/pod), `NAMESPACE`, `WORKLOAD_NAME`, `CLUSTER_ID`, `IDENTITY`, `OWNER`
 *   (`kubernetes://apis/apps/v1/namespaces/<ns>/<type>s/<workload>`), `REGION`,
 *   `AVAILABILITY_ZONE`, and `LABELS` (a nested Struct with `service.istio.io/canonical-name`,
 *   `service.istio.io/canonical-revision`, `app`, `version`, plus any additional labels);
 *   empty values are omitted, `LABELS` is always present. Older sidecars send the whole node
 *   metadata (ISTIO_VERSION, MESH_ID, PLATFORM_METADATA...): the decoder reads what it knows and
 *   skips the rest.
 * - `x-envoy-peer-metadata-id`: the node id, `sidecar~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local`;
 *   Envoy caches decoded metadata by it.
 *
 * Where the headers go (the wiring in fetch/server calls the functions below):
 *
 * | side | request | response |
 * |---|---|---|
 * | client (outbound) | **adds** both headers (`peerMetadataHeaders`), except towards destinations outside the mesh (passthrough, MESH_EXTERNAL ServiceEntries) — the headers never leave the mesh | **reads and strips** both (`takePeerMetadata`) before the application sees the response |
 * | server (inbound) | **reads and strips** both before the handler runs | **adds** both, only when the request carried them (a mesh peer asked) |
 *
 * This mirrors the filter: discovery removes the headers it read, the client side always
 * propagates upstream (`skip_external_clusters` aside), the server side answers only peers that
 * sent theirs (`request_peer_received_`).
 */
import { decodeStruct, encodeStruct, type StructFields, type StructValue } from './protobuf-struct.js';

export const PEER_METADATA_HEADER = 'x-envoy-peer-metadata';
export const PEER_METADATA_ID_HEADER = 'x-envoy-peer-metadata-id';

/** metadata_object.h: the label keys the exchange reads and writes. */
export const CANONICAL_NAME_LABEL = 'service.istio.io/canonical-name';
export const CANONICAL_REVISION_LABEL = 'service.istio.io/canonical-revision';
const APP_NAME_QUALIFIED_LABEL = 'app.kubernetes.io/name';
const APP_VERSION_QUALIFIED_LABEL = 'app.kubernetes.io/version';
const OWNER_PREFIX = 'kubernetes://apis/apps/v1/namespaces/';

export type WorkloadType = 'pod' | 'deployment' | 'job' | 'cronjob';

/** What the exchange says about a workload (metadata_object.h: WorkloadMetadataObject). */
export interface WorkloadMetadata {
  /** `NAME`: the instance (pod) name. */
  readonly instanceName?: string | undefined;
  /** `NAMESPACE`. */
  readonly namespace?: string | undefined;
  /** `WORKLOAD_NAME`: the Deployment (or other owner) name. */
  readonly workloadName?: string | undefined;
  /** `CLUSTER_ID`: the cluster, `Kubernetes` in a single-cluster Istio. */
  readonly clusterId?: string | undefined;
  /** `IDENTITY`. */
  readonly identity?: string | undefined;
  /** `LABELS[service.istio.io/canonical-name]`. */
  readonly canonicalService?: string | undefined;
  /** `LABELS[service.istio.io/canonical-revision]`. */
  readonly canonicalRevision?: string | undefined;
  /** `LABELS[app.kubernetes.io/name]`, else `LABELS[app]`. */
  readonly app?: string | undefined;
  /** `LABELS[app.kubernetes.io/version]`, else `LABELS[version]`. */
  readonly version?: string | undefined;
  /** From `OWNER`. */
  readonly workloadType?: WorkloadType | undefined;
  readonly region?: string | undefined;
  readonly zone?: string | undefined;
  /** Further labels exchanged (Istio: `PILOT_MX_ADDITIONAL_LABELS`). */
  readonly labels?: Readonly<Record<string, string>> | undefined;
}

/**
 * The local workload: its metadata plus the raw `app` and `version` labels, which the stats
 * filter reads for the local side of metrics (istio_stats.cc reads node `LABELS[app]`, not the
 * `app.kubernetes.io/name` fallback the exchange uses).
 */
export interface LocalWorkload extends WorkloadMetadata {
  readonly appLabel?: string | undefined;
  readonly versionLabel?: string | undefined;
}

export interface LocalWorkloadInput {
  namespace: string;
  /** All the workload's labels (`app`, `version`, ...). */
  labels?: Readonly<Record<string, string>> | undefined;
  /** Workload (Deployment) name; default: the canonical name. */
  name?: string | undefined;
  /** Instance name (pod name, host name...). */
  instanceName?: string | undefined;
  clusterId?: string | undefined;
  identity?: string | undefined;
  workloadType?: WorkloadType | undefined;
  region?: string | undefined;
  zone?: string | undefined;
  /** Label keys also sent in `LABELS` (default none). */
  additionalLabels?: readonly string[] | undefined;
}

/**
 * The Kubernetes injector's rules for the canonical labels
 * (manifests/charts/istio-control/istio-discovery/files/injection-template.yaml):
 * name = `service.istio.io/canonical-name` | `app.kubernetes.io/name` | `app` | workload name,
 * truncated to 63 characters with `-_.` trimmed; revision = `service.istio.io/canonical-revision`
 * | `app.kubernetes.io/version` | `version` | `latest`.
 */
export function canonicalService(labels: Readonly<Record<string, string>>, workloadName: string): { name: string; revision: string } {
  const name = (labels[CANONICAL_NAME_LABEL] ?? labels[APP_NAME_QUALIFIED_LABEL] ?? labels.app ?? workloadName).slice(0, 63).replace(/^[-_.]+|[-_.]+$/g, '');
  const revision = labels[CANONICAL_REVISION_LABEL] ?? labels[APP_VERSION_QUALIFIED_LABEL] ?? labels.version ?? 'latest';
  return { name, revision };
}

/** Builds the local workload's metadata from what Meshwork knows about itself. */
export function localWorkload(input: LocalWorkloadInput): LocalWorkload {
  const labels = input.labels ?? {};
  const workloadName = input.name ?? labels[CANONICAL_NAME_LABEL] ?? labels[APP_NAME_QUALIFIED_LABEL] ?? labels.app ?? '';
  const canon = canonicalService(labels, workloadName);
  const extra: Record<string, string> = {};
  for (const k of input.additionalLabels ?? []) if (labels[k] !== undefined) extra[k] = labels[k];
  return Object.freeze({
    instanceName: input.instanceName,
    namespace: input.namespace,
    workloadName,
    clusterId: input.clusterId,
    identity: input.identity,
    canonicalService: canon.name,
    canonicalRevision: canon.revision,
    app: labels[APP_NAME_QUALIFIED_LABEL] ?? labels.app,
    version: labels[APP_VERSION_QUALIFIED_LABEL] ?? labels.version,
    appLabel: labels.app,
    versionLabel: labels.version,
    workloadType: input.workloadType,
    region: input.region,
    zone: input.zone,
    labels: Object.keys(extra).length > 0 ? Object.freeze(extra) : undefined,
  });
}

/** metadata_object.cc: convertWorkloadMetadataToStruct. */
export function workloadMetadataToStruct(m: WorkloadMetadata): StructFields {
  const out: StructFields = {};
  if (m.instanceName) out.NAME = m.instanceName;
  if (m.namespace) out.NAMESPACE = m.namespace;
  if (m.workloadName) out.WORKLOAD_NAME = m.workloadName;
  if (m.clusterId) out.CLUSTER_ID = m.clusterId;
  if (m.identity) out.IDENTITY = m.identity;
  const labels: StructFields = {};
  if (m.canonicalService) labels[CANONICAL_NAME_LABEL] = m.canonicalService;
  if (m.canonicalRevision) labels[CANONICAL_REVISION_LABEL] = m.canonicalRevision;
  if (m.app) labels.app = m.app;
  if (m.version) labels.version = m.version;
  for (const [k, v] of Object.entries(m.labels ?? {})) labels[k] = v;
  out.LABELS = labels;
  if (m.workloadType) out.OWNER = `${OWNER_PREFIX}${m.namespace ?? ''}/${m.workloadType}s/${m.workloadName ?? ''}`;
  if (m.region) out.REGION = m.region;
  if (m.zone) out.AVAILABILITY_ZONE = m.zone;
  return out;
}

function str(v: StructValue | undefined): string {
  return typeof v === 'string' ? v : '';
}

/** metadata_object.cc: parseOwner — the type in `.../<type>s/<workload>`. */
function parseOwner(owner: string, workload: string): WorkloadType | undefined {
  if (owner.length <= workload.length + 2) return undefined;
  const head = owner.slice(0, owner.length - workload.length - 2);
  const t = head.slice(head.lastIndexOf('/') + 1);
  return t === 'pod' || t === 'deployment' || t === 'job' || t === 'cronjob' ? t : undefined;
}

/**
 * metadata_object.cc: convertStructToWorkloadMetadata. `additionalLabels`: label keys to keep
 * beyond the four the exchange always reads.
 */
export function workloadMetadataFromStruct(fields: StructFields, additionalLabels?: ReadonlySet<string>): WorkloadMetadata {
  let canonicalService = '';
  let canonicalRevision = '';
  let app = '';
  let version = '';
  let labels: Record<string, string> | undefined;
  const l = fields.LABELS;
  if (l && typeof l === 'object' && !Array.isArray(l)) {
    for (const [k, v] of Object.entries(l)) {
      if (k === CANONICAL_NAME_LABEL) canonicalService = str(v);
      else if (k === CANONICAL_REVISION_LABEL) canonicalRevision = str(v);
      else if (k === APP_NAME_QUALIFIED_LABEL) app = str(v);
      else if (k === 'app' && !app) app = str(v);
      else if (k === APP_VERSION_QUALIFIED_LABEL) version = str(v);
      else if (k === 'version' && !version) version = str(v);
      else if (additionalLabels?.has(k)) (labels ??= {})[k] = str(v);
    }
  }
  const workloadName = str(fields.WORKLOAD_NAME);
  const out: WorkloadMetadata = {
    instanceName: str(fields.NAME) || undefined,
    namespace: str(fields.NAMESPACE) || undefined,
    workloadName: workloadName || undefined,
    clusterId: str(fields.CLUSTER_ID) || undefined,
    identity: str(fields.IDENTITY) || undefined,
    canonicalService: canonicalService || undefined,
    canonicalRevision: canonicalRevision || undefined,
    app: app || undefined,
    version: version || undefined,
    workloadType: parseOwner(str(fields.OWNER), workloadName),
    region: str(fields.REGION) || undefined,
    zone: str(fields.AVAILABILITY_ZONE) || undefined,
    labels: labels ? Object.freeze(labels) : undefined,
  };
  return Object.freeze(out);
}

// ---- header values ----

const encoded = new WeakMap<WorkloadMetadata, string>();

/**
 * The `x-envoy-peer-metadata` value for a workload: base64 of its deterministic Struct. Cached
 * per metadata object, so pass the same (frozen) object every time.
 */
export function encodePeerMetadata(local: WorkloadMetadata): string {
  let v = encoded.get(local);
  if (v === undefined) {
    v = Buffer.from(encodeStruct(workloadMetadataToStruct(local))).toString('base64');
    encoded.set(local, v);
  }
  return v;
}

/** `sidecar~<ip>~<instance>.<namespace>~<namespace>.svc.<domain>`, the node id Istio sends (and caches by). */
export function peerMetadataId(opts: { ip: string; instanceName: string; namespace: string; domainSuffix?: string | undefined }): string {
  return `sidecar~${opts.ip}~${opts.instanceName}.${opts.namespace}~${opts.namespace}.svc.${opts.domainSuffix ?? 'cluster.local'}`;
}

export interface PeerMetadataDecodeOptions {
  /** Longest header value accepted, in characters (default 8192; larger values are ignored). */
  maxHeaderLength?: number | undefined;
  /** Label keys to keep beyond the ones the exchange reads. */
  additionalLabels?: ReadonlySet<string> | undefined;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
const DEFAULT_MAX_HEADER = 8192;
const CACHE_MAX = 1024;
/**
 * Decoded values by the peer's id (`x-envoy-peer-metadata-id`), as Envoy's exchange caches
 * them (peer_metadata filter, `MXMethod::lookup`). Keying by the ~60-character id rather than the
 * ~500-character value matters per request: a Map lookup hashes its key, and the value arrives
 * as a fresh string each time, so hashing it cost ~0.7 us per request on each side. Unlike
 * Envoy, a hit is checked against the value it was decoded from (a string comparison, far
 * cheaper than hashing): one process can hold several workloads under one id (tests, several
 * Mesh instances), and a workload's metadata changes when its certificate arrives (IDENTITY).
 */
const decodedById = new Map<string, { value: string; result: WorkloadMetadata | null }>();
/** Decoded values by header text, for a peer that sends no id; the same text yields the same object. */
const decodedByValue = new Map<string, WorkloadMetadata | null>();

/** Envoy trims a quarter of its id cache when full (peer_metadata filter: MXMethod::lookup). */
function remember<V>(cache: Map<string, V>, key: string, value: V): void {
  if (cache.size >= CACHE_MAX) {
    let n = CACHE_MAX / 4;
    for (const k of cache.keys()) {
      cache.delete(k);
      if (--n <= 0) break;
    }
  }
  cache.set(key, value);
}

function decodeValue(value: string, options: PeerMetadataDecodeOptions): WorkloadMetadata | null {
  const text = value.trim();
  if (!BASE64.test(text) || text.length % 4 === 1) return null;
  try {
    return workloadMetadataFromStruct(decodeStruct(Buffer.from(text, 'base64')), options.additionalLabels);
  } catch {
    return null;
  }
}

/**
 * Decodes an `x-envoy-peer-metadata` value. Returns `undefined` for a missing, oversized or
 * malformed value (the peer then reads as `unknown` in metrics, as with a peer without a sidecar).
 * Results are cached (bounded) by the peer's `id` when it sent one, as Envoy does, else by value;
 * the same value yields the same frozen object, which the metrics cache keys on.
 */
export function decodePeerMetadata(headerValue: string | readonly string[] | undefined, options: PeerMetadataDecodeOptions = {}, id?: string): WorkloadMetadata | undefined {
  const value = typeof headerValue === 'string' ? headerValue : headerValue?.[0];
  if (!value) return undefined;
  if (value.length > (options.maxHeaderLength ?? DEFAULT_MAX_HEADER)) return undefined;
  const cacheable = !options.additionalLabels;
  const byId = cacheable && id ? id : undefined;
  if (byId !== undefined) {
    const hit = decodedById.get(byId);
    if (hit !== undefined && hit.value === value) return hit.result ?? undefined;
  }
  // An id not seen with this value: the value cache may still know it (another workload of
  // this process under the same id, or a peer that sends no id); the same value, the same object.
  let result = cacheable ? decodedByValue.get(value) : undefined;
  if (result === undefined) {
    result = decodeValue(value, options);
    if (cacheable) remember(decodedByValue, value, result);
  }
  if (byId !== undefined) remember(decodedById, byId, { value, result });
  return result ?? undefined;
}

type HeaderBag = Record<string, string | string[] | undefined>;

/**
 * Reads and removes both exchange headers from a (lower-case keyed) header object: for the
 * server side on the request, for the client side on the response. The application never sees
 * them.
 */
export function takePeerMetadata(headers: HeaderBag, options?: PeerMetadataDecodeOptions): TakenPeerMetadata {
  const raw = headers[PEER_METADATA_HEADER];
  const rawId = headers[PEER_METADATA_ID_HEADER];
  // Servers and clients call this for every request and response: nothing allocated when the peer sent nothing.
  if (raw === undefined && rawId === undefined) return NOT_EXCHANGED;
  delete headers[PEER_METADATA_HEADER];
  delete headers[PEER_METADATA_ID_HEADER];
  const id = typeof rawId === 'string' ? rawId : rawId?.[0];
  return { peer: decodePeerMetadata(raw, options, id), id, present: true };
}

export interface TakenPeerMetadata {
  readonly peer: WorkloadMetadata | undefined;
  readonly id: string | undefined;
  /** The peer sent either exchange header. */
  readonly present: boolean;
}

const NOT_EXCHANGED: TakenPeerMetadata = Object.freeze({ peer: undefined, id: undefined, present: false });

/** Is this header name one of the exchange pair (any case; a Buffer as undici's raw headers hold it)? */
export function isPeerMetadataHeader(name: Buffer | string): boolean {
  // Only names of these two lengths can match: the common case costs a length check.
  const len = name.length;
  if (len !== PEER_METADATA_HEADER.length && len !== PEER_METADATA_ID_HEADER.length) return false;
  if (typeof name === 'string') {
    const s = name.toLowerCase();
    return s === PEER_METADATA_HEADER || s === PEER_METADATA_ID_HEADER;
  }
  // Bytes compared in place (ASCII letters folded with 0x20): a response's raw list is scanned
  // on every meshed request, and a string per candidate name would be garbage each time.
  // PEER_METADATA_HEADER is a prefix of PEER_METADATA_ID_HEADER, so one comparison serves both.
  for (let i = 0; i < len; i++) {
    let b = name[i]!;
    if (b >= 0x41 && b <= 0x5a) b |= 0x20;
    if (b !== PEER_METADATA_ID_HEADER.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * A flat raw header list (`[name, value, ...]`, as node:http's `rawHeaders` and undici's raw
 * headers are) without the exchange pair: the application never sees them, and they never
 * leave the mesh. A copy; `removePeerMetadata` changes the list itself.
 */
export function withoutPeerMetadata<T extends Buffer | string>(raw: readonly T[]): T[] {
  return removePeerMetadata(raw.slice());
}

/** Takes the exchange pair out of a flat raw header list in place (node:http's `rawHeaders`, which the application reads), and returns it. */
export function removePeerMetadata<T extends Buffer | string>(raw: T[]): T[] {
  let w = 0;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const n = raw[i]!;
    if (isPeerMetadataHeader(n)) continue;
    raw[w++] = n;
    raw[w++] = raw[i + 1]!;
  }
  raw.length = w;
  return raw;
}

/** The two headers to add (request on the client side; response on the server side when the request had them). */
export function peerMetadataHeaders(local: WorkloadMetadata, id: string): [string, string][] {
  return [
    [PEER_METADATA_ID_HEADER, id],
    [PEER_METADATA_HEADER, encodePeerMetadata(local)],
  ];
}
