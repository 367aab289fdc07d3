/** installMesh: Node's built-in fetch and the undici package both go through the mesh. */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fetch as undiciFetch, request } from 'undici';
import { installMesh } from '../src/index.js';
import { named, workloadEntries, tempDir, type TestServer } from './servers.js';

let v1: TestServer;
let v2: TestServer;
beforeAll(async () => {
  v1 = await named('v1');
  v2 = await named('v2');
});
afterAll(async () => {
  await v1.close();
  await v2.close();
});

const config = (subset: string) => `apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: web}, ports: [{name: http, port: 8080}]}
---
${workloadEntries('web', 'shop', [{ port: v1.port, labels: { version: 'v1' } }, { port: v2.port, labels: { version: 'v2' } }])}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: shop}
spec:
  host: web
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: shop}
spec:
  hosts: [web]
  http: [{route: [{destination: {host: web, subset: ${subset}}}], headers: {request: {set: {x-routed-by: meshwork}}}}]
`;

describe('installMesh', () => {
  it('routes Node\'s fetch, undici.fetch and undici.request; close() restores the previous dispatcher', async () => {
    const mesh = installMesh({ workload: { namespace: 'shop', labels: { app: 'client' } }, configYaml: config('v2') });
    try {
      const a = await (await fetch('http://web:8080/a')).json();
      const b = await (await undiciFetch('http://web.shop:8080/b')).json();
      const c = await (await request('http://web.shop.svc.cluster.local:8080/c')).body.json();
      expect([a, b, c].map((x: any) => x.name)).toEqual(['v2', 'v2', 'v2']);
      expect((a as any).headers['x-routed-by']).toBe('meshwork');
    } finally {
      await mesh.close();
    }
    // Back to plain DNS: the mesh name no longer resolves.
    await expect(fetch('http://web:8080/a')).rejects.toThrow();
  });

  it('a config change applies atomically between requests; a bad change is rejected and the last good config serves', async () => {
    const dir = tempDir('meshwork-config-');
    writeFileSync(join(dir, 'web.yaml'), config('v1'));
    const rejected: string[] = [];
    const mesh = installMesh({ workload: { namespace: 'shop', labels: {} }, configDir: dir, watch: false, onConfigRejected: (ds) => rejected.push(...ds.map((d) => `${d.line}:${d.message}`)) });
    try {
      expect(((await (await fetch('http://web:8080/')).json()) as any).name).toBe('v1');
      writeFileSync(join(dir, 'web.yaml'), config('v2'));
      expect(mesh.dispatcher.mesh.reload().applied).toBe(true);
      expect(((await (await fetch('http://web:8080/')).json()) as any).name).toBe('v2');
      writeFileSync(join(dir, 'web.yaml'), config('v1').replace('port: 8080', 'port: 80800'));
      expect(mesh.dispatcher.mesh.reload().applied).toBe(false);
      expect(rejected.join('\n')).toMatch(/port/);
      expect(((await (await fetch('http://web:8080/')).json()) as any).name).toBe('v2');
    } finally {
      await mesh.close();
    }
  });
});

describe('what @meshwork/fetch loads', () => {
  it('takes only the undici modules it uses (not the package index), and shares them with an application that imports undici', async () => {
    const { execFileSync } = await import('node:child_process');
    const script = `
      import { createRequire } from 'node:module';
      const require = createRequire(import.meta.url);
      const { installMesh } = await import('@meshwork/fetch');
      const loaded = () => Object.keys(require.cache).filter((k) => k.includes('/undici/'));
      const before = loaded();
      const mesh = installMesh({ configYaml: '' });
      const undici = await import('undici');
      const same = undici.getGlobalDispatcher() === mesh.dispatcher && mesh.dispatcher instanceof undici.Dispatcher;
      await mesh.close();
      console.log(JSON.stringify({ index: before.some((k) => k.endsWith('/undici/index.js')), pool: before.some((k) => k.endsWith('/dispatcher/pool.js')), same }));
    `;
    const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: new URL('..', import.meta.url), encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual({ index: false, pool: true, same: true });
  });
});
