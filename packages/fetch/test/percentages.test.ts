/** Percentages (fault abort, mirror) hold within statistical bounds; RE2 regex rewrite. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMeshDispatcher } from '../src/index.js';
import { named, startServer, workloadEntries, type TestServer } from './servers.js';

let app: TestServer;
let shadow: TestServer;
beforeAll(async () => {
  app = await named('app');
  shadow = await startServer((_q, res) => res.end('shadow'));
});
afterAll(async () => {
  await app.close();
  await shadow.close();
});

const svc = (name: string, s: TestServer) => `apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec: {selector: {app: ${name}}, ports: [{name: http, port: 80}]}
---
${workloadEntries(name, 'default', [{ port: s.port, labels: {} }])}
---
`;

describe('percentages and regex rewrite', () => {
  it('abort at 30 % and mirror at 50 % fire at their rates (5 sd bounds over 1,000 requests)', async () => {
    const yaml = svc('app', app) + svc('shadow', shadow) + `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: app}
spec:
  hosts: [app]
  http:
  - route: [{destination: {host: app}}]
    fault: {abort: {httpStatus: 418, percentage: {value: 30}}}
    mirror: {host: shadow}
    mirrorPercentage: {value: 50}
`;
    const d = createMeshDispatcher({ configYaml: yaml });
    const n = 1000;
    const before = shadow.hits;
    let aborted = 0;
    for (let i = 0; i < n; i++) {
      const r = await request('http://app/', { dispatcher: d });
      await r.body.text();
      if (r.statusCode === 418) aborted++;
    }
    const bound = (p: number, m: number) => 5 * Math.sqrt(m * p * (1 - p));
    expect(Math.abs(aborted - n * 0.3)).toBeLessThan(bound(0.3, n));
    // Mirrors go only with forwarded requests (an aborted request never reaches the router).
    for (let i = 0; i < 100 && shadow.hits - before < (n - aborted) * 0.3; i++) await new Promise((r) => setTimeout(r, 10));
    const forwarded = n - aborted;
    expect(Math.abs(shadow.hits - before - forwarded * 0.5)).toBeLessThan(bound(0.5, forwarded));
    await d.close();
  });

  it('uriRegexRewrite rewrites with RE2 capture groups', async () => {
    const yaml = svc('app', app) + `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: app}
spec:
  hosts: [app]
  http:
  - match: [{uri: {regex: "/users/[0-9]+/orders/.*"}}]
    rewrite: {uriRegexRewrite: {match: "/users/([0-9]+)/orders/(.*)", rewrite: "/v2/orders/\\\\2?user=\\\\1"}}
    route: [{destination: {host: app}}]
`;
    const d = createMeshDispatcher({ configYaml: yaml });
    const r = await request('http://app/users/42/orders/abc', { dispatcher: d });
    expect(((await r.body.json()) as { path: string }).path).toBe('/v2/orders/abc?user=42');
    await d.close();
  });
});
