/** Routing features end to end through the dispatcher, with real servers. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { MeshError, withDeadline } from '@meshwork/core';
import { createMeshDispatcher } from '../src/index.js';
import { named, startServer, workloadEntries, type TestServer } from './servers.js';

let a: TestServer, b: TestServer, c: TestServer, mirror: TestServer;
const mirrored: string[] = [];
beforeAll(async () => {
  a = await named('a');
  b = await named('b');
  c = await named('c');
  mirror = await startServer((req, res) => {
    mirrored.push(`${req.headers.host} ${req.url}`);
    res.end('mirror');
  });
});
afterAll(async () => {
  for (const s of [a, b, c, mirror]) await s.close();
});

const service = (name: string, eps: TestServer[], extra = '') => `apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec: {selector: {app: ${name}}, ports: [{name: http, port: 80}]}
---
${workloadEntries(name, 'default', eps.map((s, i) => ({ port: s.port, labels: { idx: String(i) } })))}
---
${extra}`;

async function get(d: ReturnType<typeof createMeshDispatcher>, url: string, headers: Record<string, string> = {}) {
  const r = await request(url, { dispatcher: d, headers });
  const text = await r.body.text();
  let json: any;
  try { json = JSON.parse(text); } catch { /* not JSON */ }
  return { status: r.statusCode, headers: r.headers, text, json };
}

describe('features', () => {
  it('consistent hash on a header keeps a user on one endpoint; a generated cookie sticks too', async () => {
    const yaml = service('sticky', [a, b, c], `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: sticky}
spec:
  host: sticky
  trafficPolicy: {loadBalancer: {consistentHash: {httpHeaderName: x-user}}}
---
`) + service('cookie', [a, b, c], `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: cookie}
spec:
  host: cookie
  trafficPolicy: {loadBalancer: {consistentHash: {httpCookie: {name: session, path: /, ttl: 60s}}}}
`);
    const d = createMeshDispatcher({ configYaml: yaml });
    for (const user of ['alice', 'bob', 'carol', 'dave']) {
      const first = (await get(d, 'http://sticky/', { 'x-user': user })).json.name;
      for (let i = 0; i < 10; i++) expect((await get(d, 'http://sticky/', { 'x-user': user })).json.name).toBe(first);
    }
    const r = await get(d, 'http://cookie/');
    const setCookie = String(r.headers['set-cookie']);
    expect(setCookie).toMatch(/^session=[0-9a-f]{16}; Path=\/; Max-Age=60; HttpOnly$/);
    const cookie = setCookie.split(';')[0]!;
    const host = (await get(d, 'http://cookie/', { cookie })).json.name;
    for (let i = 0; i < 10; i++) expect((await get(d, 'http://cookie/', { cookie })).json.name).toBe(host);
    await d.close();
  });

  it('rewrite (prefix and authority), redirect, direct response and mirroring', async () => {
    mirrored.length = 0;
    const yaml = service('web', [a]) + service('shadow', [mirror], `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web]
  http:
  - match: [{uri: {prefix: /old/}}]
    redirect: {uri: /moved, redirectCode: 302}
  - match: [{uri: {exact: /health}}]
    directResponse: {status: 200, body: {string: fine}}
    headers: {response: {set: {content-type: text/plain}}}
  - match: [{uri: {prefix: /api/}}]
    rewrite: {uri: /v2/, authority: backend.internal}
    route: [{destination: {host: web}}]
    mirror: {host: shadow}
  - route: [{destination: {host: web}}]
`);
    const d = createMeshDispatcher({ configYaml: yaml });
    const rw = await get(d, 'http://web/api/items?x=1');
    expect(rw.json).toMatchObject({ name: 'a', path: '/v2/items?x=1', host: 'backend.internal' });
    const red = await get(d, 'http://web/old/page');
    expect(red).toMatchObject({ status: 302 });
    expect(red.headers.location).toBe('http://web/moved');
    const dr = await get(d, 'http://web/health');
    expect(dr).toMatchObject({ status: 200, text: 'fine' });
    expect(dr.headers['content-type']).toBe('text/plain');
    // Mirrors are fire-and-forget: wait until the copy arrives (bounded).
    for (let i = 0; i < 50 && mirrored.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(mirrored).toEqual(['backend.internal /v2/items?x=1']);
    await d.close();
  });

  it('a route timeout is announced upstream in x-envoy-expected-rq-timeout-ms; caller copies are replaced', async () => {
    const d = createMeshDispatcher({ configYaml: service('timed', [a], `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: timed}
spec:
  hosts: [timed]
  http: [{route: [{destination: {host: timed}}], timeout: 2s}]
`) });
    const r = await get(d, 'http://timed/', { 'x-envoy-expected-rq-timeout-ms': '1', 'x-envoy-attempt-count': '9' });
    expect(r.json.headers).toMatchObject({ 'x-envoy-expected-rq-timeout-ms': '2000', 'x-envoy-attempt-count': '1' });
    await d.close();
  });

  it('throwOnLocalReply turns local replies into MeshError with code, reason and flag', async () => {
    const d = createMeshDispatcher({ configYaml: service('none', []), throwOnLocalReply: true });
    const err = await request('http://none/', { dispatcher: d }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MeshError);
    expect(err).toMatchObject({ code: 14, flag: 'UH', status: 503 });
    await d.close();
  });

  it('the remaining budget of the inbound request caps an outbound call (deadline propagation)', async () => {
    const slow = await startServer((_q, res) => setTimeout(() => res.end('late'), 1000));
    const d = createMeshDispatcher({ configYaml: service('slow', [slow]) });
    const r = await withDeadline(100, () => get(d, 'http://slow/'));
    expect(r).toMatchObject({ status: 504, text: 'upstream request timeout' });
    await d.close();
    await slow.close();
  });
});
