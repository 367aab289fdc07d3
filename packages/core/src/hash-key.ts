/**
 * The consistent-hash key of a request, from the cluster's `consistentHash` policy (Envoy
 * route hash policies as Istio builds them: header, cookie, source IP, query parameter).
 */
import { randomBytes } from 'node:crypto';
import { networkInterfaces } from 'node:os';
import { findCookie, findQueryParam, type ClusterPolicy } from '@meshwork/policy';

export interface HashKeyResult {
  key: string | undefined;
  /** A cookie to set on the response when the policy generates one (httpCookie with ttl). */
  setCookie?: string | undefined;
}

let sourceIp: string | undefined;
/** The address other workloads see this process as (first external IPv4), for `useSourceIp`. */
function localSourceIp(): string {
  if (sourceIp === undefined) {
    sourceIp = '127.0.0.1';
    for (const list of Object.values(networkInterfaces())) {
      const a = list?.find((x) => x.family === 'IPv4' && !x.internal);
      if (a) {
        sourceIp = a.address;
        break;
      }
    }
  }
  return sourceIp;
}

/** A lower-cased header's value, repeated values joined with ',' (the policy lower-cases names at compile time). */
function header(headers: Readonly<Record<string, string | string[]>>, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

const NO_KEY: HashKeyResult = Object.freeze({ key: undefined });

/** Computes the hash key; undefined when the policy does not hash or the key is absent (Envoy then picks at random). */
export function hashKeyFor(lb: ClusterPolicy['loadBalancer'], headers: Readonly<Record<string, string | string[]>>, target: string): HashKeyResult {
  if (lb.kind !== 'consistentHash') return NO_KEY;
  const k = lb.key;
  if (k.httpHeaderName) return { key: header(headers, k.httpHeaderName) };
  if (k.httpCookie) {
    const existing = findCookie(header(headers, 'cookie'), k.httpCookie.name);
    if (existing !== undefined) return { key: existing };
    if (k.httpCookie.ttlMs === undefined) return { key: undefined };
    // Envoy generates the cookie when a ttl is set; ttl 0 makes it a session cookie.
    const value = randomBytes(8).toString('hex');
    const attrs = [`${k.httpCookie.name}=${value}`];
    if (k.httpCookie.path) attrs.push(`Path=${k.httpCookie.path}`);
    if (k.httpCookie.ttlMs > 0) attrs.push(`Max-Age=${Math.ceil(k.httpCookie.ttlMs / 1000)}`);
    attrs.push('HttpOnly');
    return { key: value, setCookie: attrs.join('; ') };
  }
  if (k.useSourceIp) return { key: localSourceIp() };
  if (k.httpQueryParameterName) {
    const q = target.indexOf('?');
    return { key: q < 0 ? undefined : findQueryParam(target.slice(q + 1), k.httpQueryParameterName) };
  }
  return { key: undefined };
}
