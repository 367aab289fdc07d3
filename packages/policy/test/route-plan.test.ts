/** The per-request router rules every adapter shares (decide/route-plan.ts). */
import { describe, expect, it } from 'vitest';
import { compileSnapshot } from '../src/compile/snapshot.js';
import { decideOutbound } from '../src/decide/outbound.js';
import {
  applyHeaderOps, destinationLocalReply, effectiveTimeoutMs, responseHeaderOps, routeLocalReply, sampleFault, sampleMirrors, upstreamAuthority, upstreamRequestHeaders,
} from '../src/decide/route-plan.js';
import { loadText } from '../src/load/loader.js';
import { meshConfig } from '../src/mesh.js';

const client = { namespace: 'default', labels: { app: 'client' } };

function decide(yaml: string, url: string, mesh = {}) {
  const snap = compileSnapshot(loadText(yaml, 'test.yaml').resources, client, { mesh });
  const u = /^http:\/\/([^/:]+)(?::(\d+))?(.*)$/.exec(url)!;
  return decideOutbound(snap, { method: 'GET', scheme: 'http', authority: u[1]!, port: Number(u[2] ?? 80), target: u[3] || '/', headers: {} });
}

const svc = `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec: {selector: {app: web}, ports: [{name: http, port: 80}]}
`;

describe('local replies of routes that need no upstream', () => {
  it('REGISTRY_ONLY: 502 with no flag; a route table without a match: 404 NR; a missing subset: 503 NC', () => {
    expect(routeLocalReply(decide(svc, 'http://elsewhere.example/', meshConfig({ outboundTrafficPolicy: 'REGISTRY_ONLY' })))).toEqual({ status: 502, body: '', flags: [] });
    const headerOnly = `${svc}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web]
  http: [{match: [{headers: {x: {exact: y}}}], route: [{destination: {host: web, subset: v9}}]}]
`;
    expect(routeLocalReply(decide(headerOnly, 'http://web/'))).toEqual({ status: 404, body: '', flags: ['NR'] });
    const routed = decideOutbound(compileSnapshot(loadText(headerOnly, 't.yaml').resources, client), { method: 'GET', scheme: 'http', authority: 'web', port: 80, target: '/', headers: { x: 'y' } });
    expect(routeLocalReply(routed)).toBeNull();
    expect(destinationLocalReply(routed.destinations[0]!)).toEqual({ status: 503, body: '', flags: ['NC'] });
  });

  it('a direct response carries the rule\'s response header operations; a redirect its Location', () => {
    const d = decide(`${svc}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web]
  http:
  - match: [{uri: {prefix: /old}}]
    redirect: {uri: /new}
  - directResponse: {status: 418, body: {string: teapot}}
    headers: {response: {set: {x-a: "1"}, add: {x-b: "2"}}}
`, 'http://web/tea');
    expect(routeLocalReply(d)).toEqual({ status: 418, body: 'teapot', flags: [], headers: { 'x-a': '1', 'x-b': '2' } });
    const r = routeLocalReply(decide(`${svc}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web]
  http: [{redirect: {uri: /new}}]
`, 'http://web/old'));
    expect(r).toEqual({ status: 301, body: '', flags: [], headers: { location: 'http://web/new' } });
  });
});

describe('faults and mirrors drawn per request', () => {
  const fault = { delay: { ms: 50, percent: 30 }, abort: { httpStatus: 500, percent: 10 } };
  it('each of delay and abort applies with its own percentage', () => {
    // The delay is drawn first, then the abort: [0.2, 0.05] -> both; [0.5, 0.5] -> neither.
    const seq = (xs: number[]) => () => xs.shift()!;
    expect(sampleFault(fault, seq([0.2, 0.05]))).toEqual({ delayMs: 50, abort: fault.abort });
    expect(sampleFault(fault, seq([0.5, 0.5]))).toEqual({ delayMs: null, abort: null });
    expect(sampleFault(fault, seq([0.5, 0.05]))).toEqual({ delayMs: null, abort: fault.abort });
    expect(sampleFault(null, Math.random)).toEqual({ delayMs: null, abort: null });
  });
  it('over many requests the shares follow the percentages (binomial bound, 6 sigma)', () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    const n = 20_000;
    let delays = 0;
    let aborts = 0;
    for (let i = 0; i < n; i++) {
      const f = sampleFault(fault, random);
      if (f.delayMs !== null) delays++;
      if (f.abort) aborts++;
    }
    const within = (k: number, p: number) => Math.abs(k - n * p) <= 6 * Math.sqrt(n * p * (1 - p));
    expect(within(delays, 0.3)).toBe(true);
    expect(within(aborts, 0.1)).toBe(true);
  });
  it('each mirror is drawn with its own percentage', () => {
    const mirrors = [{ host: 'a', subset: null, port: 80, percent: 100 }, { host: 'b', subset: null, port: 80, percent: 0 }];
    expect(sampleMirrors(mirrors, () => 0.999).map((m) => m.host)).toEqual(['a']);
  });
});

describe('what goes upstream', () => {
  const d = decide(`${svc}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web]
  http:
  - headers: {request: {set: {x-rule: r}, remove: [x-drop]}, response: {add: {x-res: r}}}
    route:
    - destination: {host: web}
      headers: {request: {add: {x-rule: d}}, response: {remove: [server]}}
`, 'http://web/');
  const dest = d.destinations[0]!;

  it('rule operations, then the destination\'s, on a copy; removals before set before add', () => {
    const original = { 'x-drop': '1', 'x-rule': 'client' };
    const out = upstreamRequestHeaders(original, d, dest);
    expect(out).toEqual({ 'x-rule': ['r', 'd'] });
    expect(original).toEqual({ 'x-drop': '1', 'x-rule': 'client' });
    expect(applyHeaderOps({ a: '1' }, { remove: ['a'], set: [['a', '2']], add: [['a', '3']] })).toEqual({ a: ['2', '3'] });
    expect(responseHeaderOps(d, dest)).toHaveLength(2);
  });

  it('headers without operations are passed as they are (no copy)', () => {
    const plain = decide(svc, 'http://web/');
    const h = { a: '1' };
    expect(upstreamRequestHeaders(h, plain, plain.destinations[0]!)).toBe(h);
    expect(responseHeaderOps(plain, plain.destinations[0]!)).toBeNull();
  });

  it('authority: the rewrite, else a host operation of the rule, else of the destination, else the request\'s', () => {
    expect(upstreamAuthority(d, dest, 'web')).toBe('web');
    const rewritten = decide(`${svc}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web]
  http: [{rewrite: {authority: api.internal}, route: [{destination: {host: web}}]}]
`, 'http://web/');
    expect(upstreamAuthority(rewritten, rewritten.destinations[0]!, 'web')).toBe('api.internal');
  });

  it('the timeout in force: the route\'s, capped by the caller\'s remaining deadline', () => {
    expect(effectiveTimeoutMs(null, undefined)).toBeNull();
    expect(effectiveTimeoutMs(1000, undefined)).toBe(1000);
    expect(effectiveTimeoutMs(null, 300)).toBe(300);
    expect(effectiveTimeoutMs(1000, 300)).toBe(300);
    expect(effectiveTimeoutMs(200, 300)).toBe(200);
  });
});

describe('findCookie (Envoy Utility::parseCookieValue), shared by consistent hashing and JWT fromCookies', () => {
  it('trims leading blanks, strips surrounding quotes, and the first pair of a name wins', async () => {
    const { findCookie } = await import('../src/decide/path.js');
    expect(findCookie('a=1;  b="two"; b=3', 'b')).toBe('two');
    expect(findCookie('a=1; ab=2', 'b')).toBeUndefined();
    expect(findCookie(undefined, 'a')).toBeUndefined();
    expect(findCookie('a=', 'a')).toBe('');
  });
});

describe('mirror targets resolve as destinations do', () => {
  it('a mirror under a wildcard ServiceEntry has its cluster; an unknown one is marked missing and noted', () => {
    const d = decide(`${svc}---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ext, namespace: default}
spec: {hosts: ["*.shadow.example"], location: MESH_EXTERNAL, ports: [{number: 80, name: http, protocol: HTTP}], resolution: DNS}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: [web]
  http:
  - route: [{destination: {host: web}}]
    mirrors:
    - destination: {host: copy.shadow.example}
    - destination: {host: nowhere.example}
`, 'http://web/');
    expect(d.mirrors.map((m) => [m.host, m.destination.service?.hostname ?? null, m.destination.missing ?? null])).toEqual([
      ['copy.shadow.example', '*.shadow.example', null],
      ['nowhere.example', null, 'host'],
    ]);
    expect(d.notes.join('\n')).toMatch(/mirror nowhere.example names no cluster/);
  });
});
