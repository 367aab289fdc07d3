/**
 * The Bookinfo samples, applied verbatim from ../shared/conformance (read in place), with
 * real node:http servers standing in for each version of each service.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMeshDispatcher, type MeshDispatcher } from '../src/index.js';
import { named, startServer, workloadEntries, type TestServer } from './servers.js';

const corpus = process.env.MESHWORK_ISTIO_CORPUS ?? resolve(fileURLToPath(import.meta.url), '../../../../../shared/conformance/istio');
const bookinfo = (f: string) => readFileSync(join(corpus, 'samples/bookinfo', f), 'utf8');

const servers: Record<string, TestServer> = {};
let registry = '';

beforeAll(async () => {
  for (const [svc, versions] of [['reviews', ['v1', 'v2', 'v3']], ['ratings', ['v1']], ['details', ['v1']]] as const) {
    for (const v of versions) servers[`${svc}-${v}`] = await named(`${svc}-${v}`);
    registry += workloadEntries(svc, 'default', versions.map((v) => ({ port: servers[`${svc}-${v}`]!.port, labels: { version: v } }))) + '---\n';
  }
});
afterAll(async () => {
  await Promise.all(Object.values(servers).map((s) => s.close()));
});

function mesh(files: string[], labels: Record<string, string> = { app: 'productpage', version: 'v1' }): MeshDispatcher {
  const yaml = [bookinfo('platform/kube/bookinfo.yaml'), bookinfo('networking/destination-rule-all.yaml'), ...files.map((f) => bookinfo(`networking/${f}`)), registry].join('\n---\n');
  return createMeshDispatcher({ workload: { namespace: 'default', labels }, configYaml: yaml });
}

async function get(d: MeshDispatcher, url: string, headers: Record<string, string> = {}) {
  const r = await request(url, { dispatcher: d, headers });
  const text = await r.body.text();
  let json: any = undefined;
  try { json = JSON.parse(text); } catch { /* local replies are text */ }
  return { status: r.statusCode, headers: r.headers, text, json };
}

describe('Bookinfo through the mesh (undici.request)', () => {
  it('virtual-service-all-v1: every reviews request lands on v1', async () => {
    const d = mesh(['virtual-service-all-v1.yaml']);
    for (let i = 0; i < 20; i++) expect((await get(d, 'http://reviews:9080/reviews/0')).json.name).toBe('reviews-v1');
    await d.close();
  });

  it('reviews-test-v2: end-user jason goes to v2, others to v1; the Host header is kept', async () => {
    const d = mesh(['virtual-service-reviews-test-v2.yaml']);
    const j = await get(d, 'http://reviews:9080/reviews/0', { 'end-user': 'jason' });
    expect(j.json).toMatchObject({ name: 'reviews-v2', path: '/reviews/0', host: 'reviews:9080', attempt: '1' });
    expect((await get(d, 'http://reviews:9080/reviews/0')).json.name).toBe('reviews-v1');
    await d.close();
  });

  it.each([
    ['virtual-service-reviews-80-20.yaml', 'reviews-v2', 0.2],
    ['virtual-service-reviews-50-v3.yaml', 'reviews-v3', 0.5],
  ])('%s splits within statistical bounds', async (file, other, p) => {
    const d = mesh([file]);
    const n = 600;
    let hits = 0;
    for (let i = 0; i < n; i++) if ((await get(d, 'http://reviews:9080/')).json.name === other) hits++;
    // 5 standard deviations of binomial(n, p): a false failure about once in 1.7 million runs.
    expect(Math.abs(hits - n * p)).toBeLessThan(5 * Math.sqrt(n * p * (1 - p)));
    await d.close();
  });

  it('ratings-test-abort: jason gets HTTP 500 "fault filter abort"; others reach ratings', async () => {
    const d = mesh(['virtual-service-ratings-test-abort.yaml'], { app: 'reviews', version: 'v2' });
    const r = await get(d, 'http://ratings:9080/ratings/0', { 'end-user': 'jason' });
    expect(r).toMatchObject({ status: 500, text: 'fault filter abort' });
    expect((await get(d, 'http://ratings:9080/ratings/0')).json.name).toBe('ratings-v1');
    await d.close();
  });

  it('ratings-test-delay: jason waits the fixed delay (7 s in the sample; checked with a 0.3 s copy)', async () => {
    const yaml = bookinfo('networking/virtual-service-ratings-test-delay.yaml').replace('fixedDelay: 7s', 'fixedDelay: 0.3s');
    const d = createMeshDispatcher({ workload: { namespace: 'default', labels: { app: 'reviews' } }, configYaml: [bookinfo('platform/kube/bookinfo.yaml'), bookinfo('networking/destination-rule-all.yaml'), yaml, registry].join('\n---\n') });
    const t0 = performance.now();
    expect((await get(d, 'http://ratings:9080/ratings/0', { 'end-user': 'jason' })).json.name).toBe('ratings-v1');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
    await d.close();
  });
});

describe('local replies', () => {
  it('noRoute is 404, an undefined subset is 503 NC, REGISTRY_ONLY is 502', async () => {
    const extra = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: details}
spec:
  hosts: [details]
  http:
  - match: [{uri: {prefix: /details}}]
    route: [{destination: {host: details, subset: v1}}]
  - match: [{uri: {prefix: /nosubset}}]
    route: [{destination: {host: details, subset: v9}}]
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default}
spec:
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
`;
    const d = createMeshDispatcher({ workload: { namespace: 'default', labels: { app: 'productpage' } }, configYaml: [bookinfo('platform/kube/bookinfo.yaml'), bookinfo('networking/destination-rule-all.yaml'), extra, registry].join('\n---\n') });
    expect((await get(d, 'http://details:9080/details/0')).json.name).toBe('details-v1');
    expect(await get(d, 'http://details:9080/other')).toMatchObject({ status: 404, text: '' });
    expect(await get(d, 'http://details:9080/nosubset')).toMatchObject({ status: 503, text: '' });
    expect(await get(d, 'http://example.com/')).toMatchObject({ status: 502, text: '' });
    await d.close();
  });

  it('an unknown host passes through under ALLOW_ANY', async () => {
    const s = await named('outside');
    const d = mesh([]);
    expect((await get(d, `http://127.0.0.1:${s.port}/x`)).json).toMatchObject({ name: 'outside', path: '/x' });
    await d.close();
    await s.close();
  });
});

describe('resilience', () => {
  it('route timeout: 504 "upstream request timeout" and the slow request is cancelled', async () => {
    const slow = await startServer((_req, res) => setTimeout(() => res.end('late'), 2000));
    const yaml = `apiVersion: v1
kind: Service
metadata: {name: slow}
spec: {selector: {app: slow}, ports: [{name: http, port: 80}]}
---
${workloadEntries('slow', 'default', [{ port: slow.port, labels: {} }])}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: slow}
spec:
  hosts: [slow]
  http: [{route: [{destination: {host: slow}}], timeout: 0.2s}]
`;
    const d = createMeshDispatcher({ configYaml: yaml });
    const t0 = performance.now();
    expect(await get(d, 'http://slow/')).toMatchObject({ status: 504, text: 'upstream request timeout' });
    expect(performance.now() - t0).toBeLessThan(1500);
    await d.close();
    await slow.close();
  });

  it('retries 5xx on another host and returns the good answer; default retries skip a dead endpoint', async () => {
    const bad = await startServer((_req, res) => { res.statusCode = 503; res.end('bad'); });
    const good = await named('good');
    const dead = await named('dead');
    const deadPort = dead.port;
    await dead.close();
    const svc = (name: string, eps: number[], retries = '') => `apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec: {selector: {app: ${name}}, ports: [{name: http, port: 80}]}
---
${workloadEntries(name, 'default', eps.map((port) => ({ port, labels: {} })))}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}}
spec:
  hosts: [${name}]
  http: [{route: [{destination: {host: ${name}}}]${retries}}]
---
`;
    const d = createMeshDispatcher({ configYaml: svc('flaky', [bad.port, good.port], ', retries: {attempts: 3, retryOn: 5xx}') + svc('halfdead', [deadPort, good.port]) });
    for (let i = 0; i < 20; i++) expect((await get(d, 'http://flaky/')).json.name).toBe('good');
    for (let i = 0; i < 20; i++) expect((await get(d, 'http://halfdead/')).status).toBe(200);
    await d.close();
    await bad.close();
    await good.close();
  });

  it('circuit breaking (istio.io task: maxConnections 1, http1MaxPendingRequests 1): overflow is 503 UO at once', async () => {
    const slow = await startServer((_req, res) => setTimeout(() => res.end('ok'), 150));
    const yaml = `apiVersion: v1
kind: Service
metadata: {name: httpbin}
spec: {selector: {app: httpbin}, ports: [{name: http, port: 8000}]}
---
${workloadEntries('httpbin', 'default', [{ port: slow.port, labels: {} }])}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: httpbin}
spec:
  host: httpbin
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1}
      http: {http1MaxPendingRequests: 1, maxRequestsPerConnection: 1}
    outlierDetection: {consecutive5xxErrors: 1, interval: 1s, baseEjectionTime: 3m, maxEjectionPercent: 100}
`;
    const d = createMeshDispatcher({ configYaml: yaml });
    const results = await Promise.all(Array.from({ length: 6 }, () => get(d, 'http://httpbin:8000/get')));
    const overflow = results.filter((r) => r.status === 503);
    expect(results.filter((r) => r.status === 200)).toHaveLength(2);
    expect(overflow).toHaveLength(4);
    expect(overflow[0]!.headers['x-envoy-overloaded']).toBe('true');
    expect(overflow[0]!.text).toMatch(/reset reason: overflow/);
    await d.close();
    await slow.close();
  });
});
