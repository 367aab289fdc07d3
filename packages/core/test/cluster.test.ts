import { describe, expect, it } from 'vitest';
import { Mesh } from '../src/index.js';

const registry = [{ name: 'svc', ports: [{ name: 'http', port: 80 }], endpoints: [{ address: '10.0.0.1', port: 80 }] }];
function cluster(yaml = '', opts: ConstructorParameters<typeof Mesh>[0] = {}) {
  const mesh = new Mesh({ registry, configYaml: yaml || undefined, ...opts });
  const d = mesh.decide({ method: 'GET', scheme: 'http', authority: 'svc', port: 80, target: '/', headers: {} });
  return { mesh, c: mesh.cluster(d.destinations[0]!) };
}

describe('circuit breaker admission', () => {
  it('maxConnections queues, a full pending queue overflows, release admits the next', async () => {
    const { mesh, c } = cluster(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: svc}
spec:
  host: svc
  trafficPolicy: {connectionPool: {tcp: {maxConnections: 2}, http: {http1MaxPendingRequests: 1}}}
`);
    const a = c.admit(), b = c.admit(), q = c.admit(), over = c.admit();
    expect([a === 'overflow' ? 'o' : a.ready === null ? 'go' : 'wait', b === 'overflow' ? 'o' : b.ready === null ? 'go' : 'wait', q === 'overflow' ? 'o' : q.ready === null ? 'go' : 'wait', over]).toEqual(['go', 'go', 'wait', 'overflow']);
    let admitted = false;
    (q as Exclude<typeof q, 'overflow'>).ready!.then(() => (admitted = true));
    (a as Exclude<typeof a, 'overflow'>).release();
    await Promise.resolve();
    expect(admitted).toBe(true);
    expect(c.active).toBe(2);
    mesh.close();
  });

  it('retry budget: concurrent retries capped at max(minRetryConcurrency, percent of active)', () => {
    const { mesh, c } = cluster(`apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: svc}
spec:
  host: svc
  trafficPolicy: {retryBudget: {percent: 20, minRetryConcurrency: 2}}
`);
    c.active = 20;
    const started = Array.from({ length: 6 }, () => c.tryStartRetry()).filter(Boolean).length;
    expect(started).toBe(4); // 20 % of 20 active
    c.active = 1;
    for (let i = 0; i < 4; i++) c.endRetry();
    expect(Array.from({ length: 5 }, () => c.tryStartRetry()).filter(Boolean).length).toBe(2); // the floor
    mesh.close();
  });

  it('the mesh-wide opt-in budget applies when the DestinationRule sets none; default is unlimited', () => {
    const none = cluster();
    none.c.active = 1;
    expect(Array.from({ length: 50 }, () => none.c.tryStartRetry()).every(Boolean)).toBe(true);
    none.mesh.close();
    const opt = cluster('', { retryBudget: { percent: 10, minRetryConcurrency: 1 } });
    opt.c.active = 30;
    expect(Array.from({ length: 10 }, () => opt.c.tryStartRetry()).filter(Boolean).length).toBe(3);
    opt.mesh.close();
  });
});
