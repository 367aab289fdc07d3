/** The gRPC client through the mesh, end to end against real grpc-js servers on 127.0.0.1. */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { Mesh } from '@meshwork/core';
import { createMeshClient, type GrpcCallInfo } from '../src/index.js';
import { EchoClient, codeOf, echoYaml, say, startServer, type EchoService, type Msg, type TestServer } from './servers.js';

let v1: TestServer, v2: TestServer, v3: TestServer;
beforeAll(async () => {
  [v1, v2, v3] = await Promise.all([startServer('v1'), startServer('v2'), startServer('v3')]);
});
afterAll(async () => {
  for (const s of [v1, v2, v3]) await s.stop();
});

const clients: EchoService[] = [];
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

function client(yaml: string, infos?: GrpcCallInfo[]): EchoService {
  const mesh = new Mesh({ workload: { namespace: 'default', labels: { app: 'caller' } }, configYaml: yaml, telemetry: false });
  const c = createMeshClient(EchoClient, 'echo.default:9090', { mesh, onCallEnd: infos ? (i) => infos.push(i) : undefined }) as EchoService;
  clients.push(c);
  return c;
}

const SUBSETS = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: default}
spec:
  host: echo
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
  - {name: v3, labels: {version: v3}}
`;

describe('routing', () => {
  it('routes on the method (:path) and on metadata as VirtualService matches, else the default route', async () => {
    const c = client(echoYaml([v1, v2, v3], `${SUBSETS}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: [echo]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: echo, subset: v2}}]
  - match: [{uri: {exact: /meshwork.test.Echo/Watch}}]
    route: [{destination: {host: echo, subset: v3}}]
  - route: [{destination: {host: echo, subset: v1}}]
`));
    expect((await say(c, 'plain')).server).toBe('v1');
    expect((await say(c, 'jason', { metadata: { 'end-user': 'jason' } })).server).toBe('v2');
    const streamed: Msg[] = [];
    await new Promise<void>((resolve, reject) => {
      const s = (c as unknown as { Watch(m: Msg): grpc.ClientReadableStream<Msg> }).Watch({ text: 'count:2' });
      s.on('data', (m: Msg) => streamed.push(m));
      s.on('error', reject);
      s.on('end', resolve);
    });
    expect(streamed.map((m) => m.server)).toEqual(['v3', 'v3']);
    // The internal endpoint entry never reaches the server; the attempt count does, as from Envoy.
    expect(streamed[0]!.metadata!['x-meshwork-endpoint']).toBeUndefined();
    expect(streamed[0]!.metadata!['x-envoy-attempt-count']).toBe('1');
    expect(streamed[0]!.authority).toBe('echo.default:9090');
  });

  it('splits by weight within statistical bounds (80/20 over 1,000 calls)', async () => {
    const c = client(echoYaml([v1, v2], `${SUBSETS}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: [echo]
  http:
  - route:
    - {destination: {host: echo, subset: v1}, weight: 80}
    - {destination: {host: echo, subset: v2}, weight: 20}
`));
    const n = 1000;
    const servers: string[] = [];
    for (let i = 0; i < n; i += 50) servers.push(...(await Promise.all(Array.from({ length: 50 }, () => say(c, 'w')))).map((r) => r.server!));
    const toV2 = servers.filter((s) => s === 'v2').length;
    // Binomial(1000, 0.2): mean 200, sd 12.6; five sd either side fails a correct split about once in 1.7 million runs.
    expect(toV2).toBeGreaterThan(200 - 5 * 12.65);
    expect(toV2).toBeLessThan(200 + 5 * 12.65);
    expect(servers.length).toBe(n);
  });

  it('applies header operations to metadata and rewrites the authority', async () => {
    const c = client(echoYaml([v1], `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: [echo]
  http:
  - headers:
      request:
        set: {x-added: "yes"}
        remove: [x-secret]
    rewrite: {authority: echo-internal.default:9090}
    route: [{destination: {host: echo}}]
`));
    const r = await say(c, 'h', { metadata: { 'x-secret': 's3', 'x-kept': 'k' } });
    expect(r.metadata).toMatchObject({ 'x-added': 'yes', 'x-kept': 'k' });
    expect(r.metadata!['x-secret']).toBeUndefined();
    expect(r.authority).toBe('echo-internal.default:9090');
  });

  it('answers UNAVAILABLE for a name the mesh does not know (NR)', async () => {
    const mesh = new Mesh({ workload: { namespace: 'default' }, configYaml: echoYaml([v1]), telemetry: false });
    const infos: GrpcCallInfo[] = [];
    const c = createMeshClient(EchoClient, 'nowhere.default:9090', { mesh, onCallEnd: (i) => infos.push(i) }) as EchoService;
    clients.push(c);
    expect(await codeOf(say(c, 'x'))).toBe(grpc.status.UNAVAILABLE);
  });
});

describe('faults, timeouts and retries', () => {
  it('aborts with abort.grpcStatus and with an HTTP status mapped as Envoy maps it (FI), never retried', async () => {
    const infos: GrpcCallInfo[] = [];
    const c = client(echoYaml([v1], `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: [echo]
  http:
  - match: [{headers: {kind: {exact: grpc}}}]
    fault: {abort: {grpcStatus: RESOURCE_EXHAUSTED, percentage: {value: 100}}}
    route: [{destination: {host: echo}}]
  - fault: {abort: {httpStatus: 403, percentage: {value: 100}}}
    route: [{destination: {host: echo}}]
`), infos);
    const before = v1.calls.get('Say') ?? 0;
    expect(await codeOf(say(c, 'a', { metadata: { kind: 'grpc' } }))).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(await codeOf(say(c, 'b'))).toBe(grpc.status.PERMISSION_DENIED);
    expect(v1.calls.get('Say') ?? 0).toBe(before);
    expect(infos.map((i) => [i.flags, i.attempts])).toEqual([[['FI'], 0], [['FI'], 0]]);
  });

  it('delays with fault.delay (DI), then calls', async () => {
    const infos: GrpcCallInfo[] = [];
    const c = client(echoYaml([v1], `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: [echo]
  http:
  - fault: {delay: {fixedDelay: 0.15s, percentage: {value: 100}}}
    route: [{destination: {host: echo}}]
`), infos);
    const t0 = performance.now();
    expect((await say(c, 'late')).server).toBe('v1');
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    expect(infos[0]!.flags).toEqual(['DI']);
  });

  it('ends with DEADLINE_EXCEEDED at the route timeout, and the caller deadline caps it', async () => {
    const infos: GrpcCallInfo[] = [];
    const c = client(echoYaml([v1], `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: [echo]
  http:
  - timeout: 0.2s
    retries: {attempts: 0}
    route: [{destination: {host: echo}}]
`), infos);
    const t0 = performance.now();
    expect(await codeOf(say(c, 'sleep:2000'))).toBe(grpc.status.DEADLINE_EXCEEDED);
    const took = performance.now() - t0;
    expect(took).toBeGreaterThanOrEqual(190);
    expect(took).toBeLessThan(1500);
    expect(infos[0]!.flags).toContain('UT');
    // A shorter caller deadline wins over the route's.
    const t1 = performance.now();
    expect(await codeOf(say(c, 'sleep:2000', { deadlineMs: 60 }))).toBe(grpc.status.DEADLINE_EXCEEDED);
    expect(performance.now() - t1).toBeLessThan(190);
    // A fast call is untouched.
    expect((await say(c, 'quick')).server).toBe('v1');
  });

  it("retries a unary call on the route's gRPC retryOn (unavailable), on another host, with Istio's defaults", async () => {
    const bad = await startServer('bad', { failAll: grpc.status.UNAVAILABLE });
    try {
      const infos: GrpcCallInfo[] = [];
      // No retries field: Istio's default policy (2 attempts; connect-failure, refused-stream, unavailable, cancelled, retriable-status-codes).
      const c = client(echoYaml([bad, v1]), infos);
      for (let i = 0; i < 20; i++) expect((await say(c, `r${i}`)).server).toBe('v1');
      expect(bad.calls.get('Say') ?? 0).toBeGreaterThan(0);
      const retried = infos.filter((i) => i.attempts === 2);
      expect(retried.length).toBe(bad.calls.get('Say'));
      // A status the policy does not name (INTERNAL) goes back at once.
      const internal = await startServer('internal', { failAll: grpc.status.INTERNAL });
      const c2 = client(echoYaml([internal]));
      expect(await codeOf(say(c2, 'x'))).toBe(grpc.status.INTERNAL);
      expect(internal.calls.get('Say')).toBe(1);
      await internal.stop();
    } finally {
      await bad.stop();
    }
  });

  it('retries on retryOn given in the route, up to attempts, then answers the last status with URX', async () => {
    const infos: GrpcCallInfo[] = [];
    const c = client(echoYaml([v1], `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: [echo]
  http:
  - retries: {attempts: 3, retryOn: resource-exhausted}
    route: [{destination: {host: echo}}]
`), infos);
    const before = v1.calls.get('Say') ?? 0;
    expect(await codeOf(say(c, 'fail:8'))).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect((v1.calls.get('Say') ?? 0) - before).toBe(4);
    expect(infos[0]).toMatchObject({ attempts: 4, flags: ['URX'] });
    // UNAVAILABLE is not in this retryOn: one attempt.
    expect(await codeOf(say(c, 'fail:14'))).toBe(grpc.status.UNAVAILABLE);
    expect(infos[1]!.attempts).toBe(1);
  });

  it('a per-try timeout ends a slow attempt and the retry goes to another endpoint, inside the route timeout', async () => {
    const slow = await startServer('slow', { delayMs: 2000 });
    try {
      const infos: GrpcCallInfo[] = [];
      const c = client(echoYaml([slow, v1], `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: default}
spec:
  host: echo
  trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: [echo]
  http:
  - timeout: 1.5s
    retries: {attempts: 2, perTryTimeout: 0.1s, retryOn: 5xx}
    route: [{destination: {host: echo}}]
`), infos);
      const t0 = performance.now();
      const replies = await Promise.all(Array.from({ length: 6 }, (_, i) => say(c, `p${i}`)));
      // Every call answered by v1: the ones that went to the slow endpoint first were cut at 100 ms and retried.
      expect(replies.map((r) => r.server)).toEqual(Array(6).fill('v1'));
      expect(performance.now() - t0).toBeLessThan(1500);
      const retried = infos.filter((i) => i.attempts === 2);
      expect(retried.length).toBeGreaterThan(0);
      expect(retried.every((i) => i.durationMs >= 95)).toBe(true);
      expect(slow.calls.get('Say')).toBe(retried.length);
      // Without 5xx/gateway-error/reset in retryOn, a per-try timeout is not retried (Envoy): DEADLINE_EXCEEDED, flag UT.
      const strict = client(echoYaml([slow], `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: [echo]
  http:
  - retries: {attempts: 2, perTryTimeout: 0.1s, retryOn: unavailable}
    route: [{destination: {host: echo}}]
`), infos);
      expect(await codeOf(say(strict, 'x'))).toBe(grpc.status.DEADLINE_EXCEEDED);
      expect(infos.at(-1)).toMatchObject({ attempts: 1, flags: ['UT'] });
    } finally {
      slow.kill();
    }
  });

  it('circuit breaking over HTTP/2: http2MaxRequests bounds concurrent calls (overflow UNAVAILABLE, UO at once); maxConnections does not', async () => {
    const slow = await startServer('slow', { delayMs: 200 });
    try {
      const infos: GrpcCallInfo[] = [];
      const c = client(echoYaml([slow], `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: default}
spec:
  host: echo
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 1}
      http: {http2MaxRequests: 3, http1MaxPendingRequests: 1}
`), infos);
      // Three at once on one connection (HTTP/1.1 counting would allow one, plus one queued).
      const failed: grpc.ServiceError[] = [];
      const codes = await Promise.all(Array.from({ length: 5 }, (_, i) => codeOf(say(c, `cb${i}`).catch((e: grpc.ServiceError) => {
        failed.push(e);
        throw e;
      }))));
      expect(codes.filter((x) => x === 0)).toHaveLength(3);
      expect(codes.filter((x) => x === grpc.status.UNAVAILABLE)).toHaveLength(2);
      const overflowed = infos.filter((i) => i.flags.includes('UO'));
      expect(overflowed).toHaveLength(2);
      expect(overflowed[0]!.details).toMatch(/reset reason: overflow/);
      // Envoy's overflow reply carries x-envoy-overloaded, for gRPC in the trailers-only metadata.
      expect(failed.map((e) => e.metadata.get('x-envoy-overloaded'))).toEqual([['true'], ['true']]);
    } finally {
      slow.kill();
    }
  });

  it('0 failed idempotent calls when an endpoint is killed under load', async () => {
    const doomed = await startServer('doomed');
    const a = await startServer('a');
    const b = await startServer('b');
    try {
      const infos: GrpcCallInfo[] = [];
      const c = client(echoYaml([doomed, a, b], `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: default}
spec:
  host: echo
  trafficPolicy:
    outlierDetection: {consecutive5xxErrors: 2, interval: 1s, baseEjectionTime: 30s}
`), infos);
      let failed = 0;
      let done = 0;
      const worker = async (w: number) => {
        for (let i = 0; i < 60; i++) {
          if (w === 0 && i === 20) doomed.kill();
          try {
            await say(c, `load-${w}-${i}`);
          } catch {
            failed++;
          }
          done++;
        }
      };
      await Promise.all(Array.from({ length: 8 }, (_, w) => worker(w)));
      expect(done).toBe(480);
      expect(failed).toBe(0);
      expect(doomed.calls.get('Say') ?? 0).toBeGreaterThan(0);
      expect(infos.some((i) => i.attempts > 1)).toBe(true);
    } finally {
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('ejects an endpoint that keeps failing (outlier detection on gRPC statuses)', async () => {
    const broken = await startServer('broken', { failAll: grpc.status.INTERNAL });
    try {
      const c = client(echoYaml([broken, v1], `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: default}
spec:
  host: echo
  trafficPolicy:
    loadBalancer: {simple: ROUND_ROBIN}
    outlierDetection: {consecutive5xxErrors: 3, interval: 10s, baseEjectionTime: 60s, maxEjectionPercent: 100}
`));
      const codes: number[] = [];
      for (let i = 0; i < 40; i++) codes.push(await codeOf(say(c, `o${i}`)));
      // INTERNAL is 500 to outlier detection: three in a row eject the host; the rest go to v1.
      expect(broken.calls.get('Say')).toBe(3);
      expect(codes.filter((x) => x !== 0)).toHaveLength(3);
    } finally {
      await broken.stop();
    }
  });
});

describe('streaming', () => {
  it('server, client and bidi streams pass through, and are never retried', async () => {
    const infos: GrpcCallInfo[] = [];
    const c = client(echoYaml([v1], `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: [echo]
  http:
  - retries: {attempts: 3, retryOn: unavailable}
    route: [{destination: {host: echo}}]
`), infos);
    const api = c as unknown as {
      Watch(m: Msg): grpc.ClientReadableStream<Msg>;
      Collect(cb: (e: grpc.ServiceError | null, r: Msg) => void): grpc.ClientWritableStream<Msg>;
      Chat(): grpc.ClientDuplexStream<Msg, Msg>;
    };
    const watched = await new Promise<string[]>((resolve, reject) => {
      const out: string[] = [];
      const s = api.Watch({ text: 'count:4' });
      s.on('data', (m: Msg) => out.push(m.text));
      s.on('error', reject);
      s.on('end', () => resolve(out));
    });
    expect(watched).toEqual(['count:4#0', 'count:4#1', 'count:4#2', 'count:4#3']);
    const collected = await new Promise<Msg>((resolve, reject) => {
      const w = api.Collect((e, r) => (e ? reject(e) : resolve(r)));
      for (const t of ['a', 'b', 'c']) w.write({ text: t });
      w.end();
    });
    expect(collected.text).toBe('a+b+c');
    const chat = await new Promise<string[]>((resolve, reject) => {
      const out: string[] = [];
      const d = api.Chat();
      d.on('data', (m: Msg) => {
        out.push(m.text);
        if (out.length === 2) d.end();
      });
      d.on('error', reject);
      d.on('end', () => resolve(out));
      d.write({ text: 'x' });
      d.write({ text: 'y' });
    });
    expect(chat).toEqual(['re:x', 're:y']);
    // A streaming call that fails UNAVAILABLE is not retried, retryOn notwithstanding.
    const before = v1.calls.get('Collect') ?? 0;
    const code = await new Promise<number>((resolve) => {
      const w = api.Collect((e) => resolve(e?.code ?? 0));
      w.write({ text: 'fail:14' });
      w.end();
    });
    expect(code).toBe(grpc.status.UNAVAILABLE);
    expect((v1.calls.get('Collect') ?? 0) - before).toBe(1);
    expect(infos.every((i) => i.attempts === 1)).toBe(true);
  });
});

describe('mirroring', () => {
  it('sends a copy of unary calls to the mirror with -shadow on the authority, and answers from the primary', async () => {
    const c = client(echoYaml([v1, v2], `${SUBSETS}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: [echo]
  http:
  - route: [{destination: {host: echo, subset: v1}}]
    mirror: {host: echo, subset: v2}
`));
    const before = v2.seen.length;
    expect((await say(c, 'm')).server).toBe('v1');
    for (let i = 0; i < 50 && v2.seen.length === before; i++) await new Promise((r) => setTimeout(r, 10));
    expect(v2.seen.length).toBe(before + 1);
    expect(v2.seen.at(-1)![':authority']).toBe('echo.default-shadow:9090');
  });
});
