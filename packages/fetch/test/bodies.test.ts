/** Request bodies and retries: replayable bodies are resent, too-large streams are not (and it is said). */
import { Readable } from 'node:stream';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMeshDispatcher, type RequestInfo } from '../src/index.js';
import { startServer, workloadEntries, tempDir, type TestServer } from './servers.js';

let flaky: TestServer;
const received: number[] = [];
beforeAll(async () => {
  // Fails the first attempt of every request (x-envoy-attempt-count 1), answers the next.
  flaky = await startServer((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => (n += c.length));
    req.on('end', () => {
      received.push(n);
      res.statusCode = req.headers['x-envoy-attempt-count'] === '1' ? 503 : 200;
      res.end(String(n));
    });
  });
});
afterAll(() => flaky.close());

const yaml = () => `apiVersion: v1
kind: Service
metadata: {name: upload}
spec: {selector: {app: upload}, ports: [{name: http, port: 80}]}
---
${workloadEntries('upload', 'default', [{ port: flaky.port, labels: {} }])}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: upload}
spec:
  hosts: [upload]
  http: [{route: [{destination: {host: upload}}], retries: {attempts: 2, retryOn: 5xx}}]
`;

describe('bodies and retries', () => {
  it('a buffered (string) body and a small stream are replayed on retry', async () => {
    const d = createMeshDispatcher({ configYaml: yaml() });
    received.length = 0;
    const a = await request('http://upload/', { dispatcher: d, method: 'POST', body: 'x'.repeat(1000) });
    expect([a.statusCode, await a.body.text()]).toEqual([200, '1000']);
    const b = await request('http://upload/', { dispatcher: d, method: 'POST', body: Readable.from([Buffer.alloc(500), Buffer.alloc(500)]) });
    expect([b.statusCode, await b.body.text()]).toEqual([200, '1000']);
    expect(received).toEqual([1000, 1000, 1000, 1000]);
    await d.close();
  });

  it('a stream over the replay limit is sent once, not retried, and the request says why', async () => {
    const ends: RequestInfo[] = [];
    const d = createMeshDispatcher({ configYaml: yaml(), maxReplayBodyBytes: 1024, onRequestEnd: (i) => ends.push(i) });
    received.length = 0;
    const r = await request('http://upload/', { dispatcher: d, method: 'POST', body: Readable.from([Buffer.alloc(800), Buffer.alloc(800), Buffer.alloc(800)]) });
    expect(r.statusCode).toBe(503);
    await r.body.text();
    expect(received).toEqual([2400]);
    expect(ends.at(-1)).toMatchObject({ attempts: 1, retriesDisabled: 'body-over-replay-limit' });
    await d.close();
  });
});

describe('watched config folder', () => {
  it('applies a change written to the folder without a restart', async () => {
    const dir = tempDir('meshwork-watch-');
    writeFileSync(join(dir, 'svc.yaml'), yaml().replace('{attempts: 2, retryOn: 5xx}', '{attempts: 0}'));
    const applied: string[] = [];
    const d = createMeshDispatcher({ configDir: dir, onConfigApplied: (v) => applied.push(v) });
    const first = await request('http://upload/', { dispatcher: d });
    expect(first.statusCode).toBe(503); // no retries configured
    await first.body.text();
    writeFileSync(join(dir, 'svc.yaml'), yaml());
    for (let i = 0; i < 100 && applied.length === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(applied.length).toBeGreaterThan(0);
    const second = await request('http://upload/', { dispatcher: d });
    expect(second.statusCode).toBe(200);
    await second.body.text();
    await d.close();
  });
});
