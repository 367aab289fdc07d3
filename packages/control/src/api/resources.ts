/**
 * The resources part of API v1: apply (all-or-nothing, validated by @meshwork/policy first),
 * list, get and delete, over the `ControlStore`.
 */
import type { IncomingMessage } from 'node:http';
import { boundMessage, loadObjects, MAX_SHOWN_VALUE, showValue, validateResources, type Diagnostic, type Resource } from '@meshwork/policy';
import { StoreError } from '../store/errors.js';
import { resourceKeyString } from '../store/keys.js';
import type { ControlStore, ResourceDoc, ResourceKey } from '../store/types.js';
import { parseJsonBody, parseYamlBody } from './apply-body.js';
import { ApiError, mediaType } from './http.js';

export interface JsonReply {
  status: number;
  body: unknown;
}

const YAML_TYPES = new Set(['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml']);
const JSON_TYPES = new Set(['application/json']);
export const APPLY_CONTENT_TYPES = [...YAML_TYPES, ...JSON_TYPES];

/** A text field of a diagnostic, bounded: policy's messages quote input values cut short already; this is the backstop. */
const bounded = (s: string | undefined, max?: number): string | undefined => (s === undefined ? undefined : boundMessage(s, max));

/** What a client sees of a diagnostic: every text field on one line and of bounded length. */
function publicDiagnostic(d: Diagnostic): Record<string, unknown> {
  return {
    severity: d.severity, code: d.code, file: d.file, line: d.line, column: d.column,
    resource: bounded(d.resource, 4 * MAX_SHOWN_VALUE), path: bounded(d.path, 4 * MAX_SHOWN_VALUE), message: bounded(d.message), fix: bounded(d.fix),
  };
}

/** Checks the content type before the body is read (415). */
export function applyFormat(req: IncomingMessage): 'yaml' | 'json' {
  const type = mediaType(req.headers['content-type']);
  if (YAML_TYPES.has(type)) return 'yaml';
  if (JSON_TYPES.has(type)) return 'json';
  throw new ApiError(415, 'unsupported_media_type', `content-type ${type ? `"${type}"` : '(none)'} is not accepted here`, { accepted: APPLY_CONTENT_TYPES }, { accept: APPLY_CONTENT_TYPES.join(', ') });
}

/** `?file=` names the body in diagnostics; anything odd falls back to `request`. */
function fileName(query: URLSearchParams): string {
  const f = query.get('file');
  return f && f.length <= 256 && !/[\u0000-\u001f]/.test(f) ? f : 'request';
}

export async function applyResources(store: ControlStore, body: Buffer, format: 'yaml' | 'json', query: URLSearchParams): Promise<JsonReply> {
  const file = fileName(query);
  const text = body.toString('utf8');
  const parsed = format === 'json' ? parseJsonBody(text, file) : parseYamlBody(text, file);
  const syntax = parsed.diagnostics.filter((d) => d.severity === 'error' && (d.code === 'yaml' || d.code === 'json'));
  if (syntax.length > 0) {
    throw new ApiError(400, 'malformed', `the ${format === 'json' ? 'JSON' : 'YAML'} body cannot be parsed; nothing was applied`, { diagnostics: syntax.map(publicDiagnostic) });
  }
  const v = validateResources(parsed.resources);
  // A batch names each object once (the store refuses duplicates): the analyzer's warning is an error here.
  const diagnostics = [...parsed.diagnostics, ...v.diagnostics].map((d) => (d.code === 'duplicate' ? { ...d, severity: 'error' as const } : d));
  const valid = new Set(v.valid);
  for (const r of parsed.resources) {
    // Kinds that are neither Istio nor a Kubernetes Service are not kept by the control service.
    if (!valid.has(r) && !diagnostics.some((d) => d.severity === 'error' && d.resource === r.key)) {
      diagnostics.push({ severity: 'error', code: 'kind', file: r.source.file, line: r.source.line, column: r.source.column, resource: r.key, message: `${showValue(r.apiVersion)} ${showValue(r.kind)} is not a kind the control service keeps`, fix: 'apply Istio resources (networking, security, telemetry) and Kubernetes Services only' });
    }
  }
  const refused = new Set(diagnostics.filter((d) => d.severity === 'error').map((d) => d.resource));
  const stored = new Map<Resource, ResourceDoc>();
  for (const r of parsed.resources) {
    if (refused.has(r.key)) continue;
    // The API server would make a name from generateName; the control service keeps what it is given.
    if (r.metadata.name === '') {
      const at = r.locate(['metadata', 'generateName']);
      diagnostics.push({ severity: 'error', code: 'name', ...at, resource: r.key, path: 'metadata.name', message: 'metadata.name: Required value: the control service does not generate names (generateName)', fix: 'name the resource with metadata.name' });
      continue;
    }
    // Defence in depth: what is stored must load again (the snapshot hub reloads every stored
    // object as JSON through loadObjects). Anything the loader accepted as YAML or JSON should.
    const doc = toDoc(r);
    stored.set(r, doc);
    const reloaded = loadObjects([doc], r.source.file);
    const failure = reloaded.diagnostics.find((d) => d.severity === 'error');
    if (reloaded.resources.length !== 1 || failure) {
      diagnostics.push({
        severity: 'error', code: 'load', file: r.source.file, line: r.source.line, column: r.source.column, resource: r.key,
        message: `the document cannot be stored: it would not load again from its stored JSON form: ${failure?.message ?? 'no resource'}`,
        fix: failure?.fix ?? 'simplify the document',
      });
    }
  }
  const errors = diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0) {
    throw new ApiError(400, 'invalid', `${errors.length} error${errors.length === 1 ? '' : 's'} in the batch; nothing was applied`, { diagnostics: errors.map(publicDiagnostic) });
  }
  if (parsed.resources.length === 0) {
    const empty: Diagnostic = { severity: 'error', code: 'empty', file, line: 1, column: 1, message: 'the body holds no resources', fix: 'send at least one Istio resource or Kubernetes Service (YAML documents, or a JSON object, array or { items })' };
    throw new ApiError(400, 'invalid', 'the body holds no resources; nothing was applied', { diagnostics: [publicDiagnostic(empty)] });
  }
  const docs: ResourceDoc[] = [];
  const expected: Record<string, string> = {};
  for (const r of parsed.resources) {
    docs.push(stored.get(r) ?? toDoc(r));
    if (r.metadata.resourceVersion !== undefined && r.metadata.resourceVersion !== '') {
      expected[resourceKeyString(keyOf(r))] = String(r.metadata.resourceVersion);
    }
  }
  const result = await store.applyBatch(docs, { expected });
  return {
    status: 200,
    body: {
      revision: result.revision,
      results: result.results.map((x) => ({ ...x.key, status: x.status, resourceVersion: x.resourceVersion, generation: x.generation })),
      warnings: diagnostics.filter((d) => d.severity === 'warning').map(publicDiagnostic),
    },
  };
}

function keyOf(r: Resource): ResourceKey {
  return { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name };
}

/** The document as stored: the loader's plain data, with the namespace it defaulted to. */
function toDoc(r: Resource): ResourceDoc {
  const raw = structuredClone(r.raw) as Record<string, unknown>;
  // Spreads copy every key as an own property (`__proto__` included); `meta[k] = v` would not.
  const meta: Record<string, unknown> = { ...((raw.metadata as Record<string, unknown> | undefined) ?? {}), name: r.metadata.name, namespace: r.metadata.namespace };
  delete meta.resourceVersion;
  delete meta.generation;
  // `creationTimestamp: null` (as kubectl writes it) means unset: the store sets it.
  if (meta.creationTimestamp === null) delete meta.creationTimestamp;
  return { ...raw, apiVersion: r.apiVersion, kind: r.kind, metadata: meta } as ResourceDoc;
}

export async function listResources(store: ControlStore, query: URLSearchParams): Promise<JsonReply> {
  const kind = query.get('kind') || undefined;
  const namespace = query.get('namespace') || undefined;
  // The revision is read first: the items are at least as new as it.
  const revision = await store.revision();
  const items = await store.list({ kind, namespace });
  return { status: 200, body: { revision, items } };
}

export async function getResource(store: ControlStore, key: ResourceKey): Promise<JsonReply> {
  const item = await store.get(key);
  if (!item) throw notFound(key);
  return { status: 200, body: item };
}

export async function deleteResource(store: ControlStore, key: ResourceKey, query: URLSearchParams): Promise<JsonReply> {
  const existing = await store.get(key);
  if (!existing) throw notFound(key);
  const rv = query.get('resourceVersion');
  const expected = rv ? { [resourceKeyString(key)]: rv } : undefined;
  const result = await store.deleteBatch([key], { expected });
  const r = result.results[0];
  if (!r || r.status === 'not-found') throw notFound(key); // deleted meanwhile
  return { status: 200, body: { revision: result.revision, result: { ...key, status: r.status } } };
}

function notFound(key: ResourceKey): ApiError {
  return new ApiError(404, 'not_found', `${resourceKeyString(key)} does not exist`, { resource: resourceKeyString(key) });
}

/** Maps a store failure to the client's answer; anything else is rethrown (500). */
export function storeErrorToApi(e: unknown): ApiError | undefined {
  if (!(e instanceof StoreError)) return undefined;
  const resource = e.key ? resourceKeyString(e.key) : undefined;
  switch (e.reason) {
    case 'conflict':
      return new ApiError(409, 'conflict', `${resource ?? 'a resource'} has resourceVersion ${e.actual === '0' ? '(none: it does not exist)' : e.actual}, not ${e.expected}; nothing was changed`, { resource, expected: e.expected, actual: e.actual });
    case 'invalid':
      return new ApiError(400, 'invalid', e.message.replace(/^\[invalid\] /, ''), { diagnostics: [{ severity: 'error', code: 'store', file: undefined, resource, message: e.message.replace(/^\[invalid\] /, '') }] });
    case 'unavailable':
      return new ApiError(503, 'unavailable', 'the store is not available');
    default:
      return undefined;
  }
}
