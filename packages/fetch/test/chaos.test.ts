/**
 * Failure under load, with real servers: an endpoint killed mid-run, config changed
 * mid-run, an endpoint that hangs. Counts, not timings, are asserted.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { createMeshDispatcher, type MeshDispatcher } from '../src/index.js';
import { named, startServer, workloadEntries, tempDir, type TestServer } from './servers.js';

const open: (TestServer | MeshDispatcher)[] = [];
afterEach(async () => {
  for (const x of open.splice(0)) await x.close();
});

function yaml(name: string, ports: number[], dr = '', vs = '') {
  return `apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec: {selector: {app: ${name}}, ports: [{name: http, port: 80}]}
---
${workloadEntries(name, 'default', ports.map((port) => ({ port, labels: {} })))}
${dr ? `---\napiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ${name}}\nspec:\n  host: ${name}\n${dr}` : ''}
${vs ? `---\napiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ${name}}\nspec:\n  hosts: [${name}]\n${vs}` : ''}
`;
}

async function load(d: MeshDispatcher, url: string, n: number, concurrency: number, during?: (i: number) => Promise<void> | void) {
  let next = 0;
  const statuses: number[] = [];
  const upstreams: string[] = [];
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      await during?.(i);
      try {
        const r = await request(url, { dispatcher: d });
        const text = await r.body.text();
        statuses[i] = r.statusCode;
        try { upstreams[i] = JSON.parse(text).name; } catch { upstreams[i] = text; }
      } catch (e) {
        statuses[i] = -1;
        upstreams[i] = String(e);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { statuses, upstreams };
}

describe('chaos', () => {
  it('one of three endpoints killed under load: 0 failed idempotent requests after the kill (default retries, another host)', async () => {
    const s = [await named('a'), await named('b'), await named('c')];
    open.push(s[0]!, s[1]!);
    const d = createMeshDispatcher({ configYaml: yaml('svc', s.map((x) => x.port)) });
    open.push(d);
    let killed = -1;
    const r = await load(d, 'http://svc/', 600, 8, async (i) => {
      if (i === 200) {
        killed = i;
        await s[2]!.close();
      }
    });
    const after = r.statuses.slice(killed + 8);
    expect(after.filter((x) => x !== 200)).toEqual([]);
    expect(r.upstreams.slice(killed + 8).filter((u) => u === 'c')).toEqual([]);
  });

  it('a retry goes to another host than the one tried (retry_host_predicate previous_hosts), statistically', async () => {
    // One endpoint always answers 503, the other 200; RANDOM balancing, one retry on 5xx. With
    // the tried host excluded, a retry lands on the bad host only when host selection draws it
    // again on all of its attempts (Envoy: HOST_SELECTION_RETRY_MAX_ATTEMPTS = 5, so 6 draws,
    // (1/2)^6 = 1.6 %): ~200 of 400 requests start on the bad host, ~3 of them fail. Without the
    // exclusion half of those retries (~100) would fail. Bound: fewer than 20.
    const bad = await startServer((_req, res) => { res.statusCode = 503; res.end('bad'); });
    const good = await named('good');
    open.push(bad, good);
    const d = createMeshDispatcher({ configYaml: yaml('svc', [bad.port, good.port], '  trafficPolicy: {loadBalancer: {simple: RANDOM}}', '  http:\n  - route: [{destination: {host: svc}}]\n    retries: {attempts: 1, retryOn: 5xx}') });
    open.push(d);
    const r = await load(d, 'http://svc/', 400, 8);
    const failed = r.statuses.filter((x) => x !== 200).length;
    expect(bad.hits).toBeGreaterThan(120); // the bad host was drawn first about half the time
    expect(failed).toBeLessThan(20);
  });

  it('the dead endpoint is ejected when the DestinationRule allows it, and not with Istio\'s default 10 % below 10 endpoints', async () => {
    for (const [percent, expectEjected] of [[100, true], [undefined, false]] as const) {
      const s = [await named('a'), await named('b'), await named('c')];
      open.push(s[0]!, s[1]!);
      const od = `  trafficPolicy:\n    outlierDetection: {consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: 30s${percent ? `, maxEjectionPercent: ${percent}` : ''}}\n`;
      const d = createMeshDispatcher({ configYaml: yaml('svc', s.map((x) => x.port), od) });
      open.push(d);
      await s[2]!.close();
      await load(d, 'http://svc/', 60, 1);
      const cluster = d.mesh.cluster(d.mesh.decide({ method: 'GET', scheme: 'http', authority: 'svc', port: 80, target: '/', headers: {} }).destinations[0]!);
      const dead = cluster.endpoints.find((e) => e.port === s[2]!.port)!;
      expect(dead.healthy, `maxEjectionPercent ${percent ?? 'default'}`).toBe(!expectEjected);
    }
  });

  it('config changed under load: 0 failed requests', async () => {
    const a = await named('a');
    const b = await named('b');
    open.push(a, b);
    const both = yaml('svc', [a.port, b.port]);
    const d = createMeshDispatcher({ configYaml: both });
    open.push(d);
    const r = await load(d, 'http://svc/', 400, 8, (i) => {
      if (i % 50 === 0) d.mesh.reload();
    });
    expect(r.statuses.filter((x) => x !== 200)).toEqual([]);
  });

  it('endpoints removed by a config change have their pools closed; a removed service drops its cluster', async () => {
    const a = await named('a');
    const b = await named('b');
    open.push(a, b);
    const dir = tempDir('meshwork-prune-');
    writeFileSync(join(dir, 'svc.yaml'), yaml('svc', [a.port, b.port]));
    const d = createMeshDispatcher({ configDir: dir, watch: false });
    open.push(d);
    await load(d, 'http://svc/', 40, 4);
    expect(d.poolCount).toBe(2);
    writeFileSync(join(dir, 'svc.yaml'), yaml('svc', [a.port]));
    expect(d.mesh.reload().applied).toBe(true);
    expect(d.poolCount).toBe(1);
    const r = await load(d, 'http://svc/', 20, 2);
    expect(new Set(r.upstreams)).toEqual(new Set(['a']));
    writeFileSync(join(dir, 'svc.yaml'), yaml('other', [a.port]));
    expect(d.mesh.reload().applied).toBe(true);
    expect(d.poolCount).toBe(0);
  });

  it('an endpoint that hangs: timeouts fire, and no socket or timer leaks', async () => {
    const hang = await startServer(() => { /* never answers */ });
    open.push(hang);
    const before = process.getActiveResourcesInfo().filter((x) => x === 'Timeout' || x === 'TCPSocketWrap').length;
    const d = createMeshDispatcher({ configYaml: yaml('hang', [hang.port], '', '  http: [{route: [{destination: {host: hang}}], timeout: 0.1s}]\n') });
    const r = await load(d, 'http://hang/', 20, 4);
    expect(r.statuses.every((x) => x === 504)).toBe(true);
    await d.close();
    await new Promise((res) => setTimeout(res, 50));
    const afterCount = process.getActiveResourcesInfo().filter((x) => x === 'Timeout' || x === 'TCPSocketWrap').length;
    expect(afterCount).toBeLessThanOrEqual(before);
  });
});
