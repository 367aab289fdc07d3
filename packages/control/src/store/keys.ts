import { createHash } from 'node:crypto';
import { StoreError } from './errors.js';
import type { ResourceDoc, ResourceKey } from './types.js';

/** `Kind/namespace/name`, the same form as @meshwork/policy's `resourceKey`. */
export function resourceKeyString(key: ResourceKey): string {
  return `${key.kind}/${key.namespace}/${key.name}`;
}

function nonEmpty(v: unknown): v is string {
  return typeof v === 'string' && v.length > 0;
}

/** The key of a document; throws `StoreError` reason `invalid` when kind, namespace or name is missing. */
export function keyOfDoc(doc: unknown, index: number): ResourceKey {
  const d = doc as Partial<ResourceDoc> | null;
  const kind = d?.kind;
  const meta = d?.metadata as Record<string, unknown> | undefined;
  const namespace = meta?.namespace;
  const name = meta?.name;
  const missing = [!nonEmpty(kind) && 'kind', !nonEmpty(namespace) && 'metadata.namespace', !nonEmpty(name) && 'metadata.name', !nonEmpty(d?.apiVersion) && 'apiVersion'].filter(Boolean);
  if (typeof doc !== 'object' || doc === null || missing.length > 0) {
    throw new StoreError(`document ${index + 1} of the batch has no ${missing.join(', ') || 'object body'}; nothing was applied`, { reason: 'invalid' });
  }
  return { kind: kind as string, namespace: namespace as string, name: name as string };
}

export function checkKey(key: ResourceKey): void {
  if (!nonEmpty(key?.kind) || !nonEmpty(key?.namespace) || !nonEmpty(key?.name)) {
    throw new StoreError(`a resource key needs kind, namespace and name, got ${JSON.stringify(key)}`, { reason: 'invalid' });
  }
}

/** JSON with object keys sorted, so equal content compares equal whatever the key order. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => {
    if (v && typeof v === 'object' && !Array.isArray(v)) {
      // No prototype: a key named `__proto__` (an ordinary key in JSON and YAML) is then an own
      // property like any other, not a prototype change that drops it from the hash.
      const out: Record<string, unknown> = Object.create(null);
      for (const k of Object.keys(v).sort()) out[k] = (v as Record<string, unknown>)[k];
      return out;
    }
    return v;
  });
}

/** sha256 of a UTF-8 string: token hashes, the admin token's digest, content hashes. */
export function sha256(s: string): Buffer {
  return createHash('sha256').update(s, 'utf8').digest();
}

/** Lower-case hex sha256 of a raw join token: the only form a store keeps. */
export function hashToken(rawToken: string): string {
  return sha256(rawToken).toString('hex');
}

export const TOKEN_HASH = /^[0-9a-f]{64}$/;
