/** installMesh: clients made the plain grpc-js way, to mesh names, go through the mesh. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import { Mesh } from '@meshwork/core';
import { installMesh, plainAuthority, type GrpcCallInfo } from '../src/index.js';
import { EchoClient, codeOf, echoYaml, say, startServer, type EchoService, type Msg, type TestServer } from './servers.js';

let v1: TestServer, v2: TestServer;
beforeAll(async () => {
  [v1, v2] = await Promise.all([startServer('v1'), startServer('v2')]);
});
afterAll(async () => {
  for (const s of [v1, v2]) await s.stop();
});

const ROUTES = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo, namespace: default}
spec:
  host: echo
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo, namespace: default}
spec:
  hosts: [echo]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: echo, subset: v2}}]
  - route: [{destination: {host: echo, subset: v1}}]
`;

describe('installMesh (plain targets of mesh names)', () => {
  it('reads the authority of plain targets', () => {
    expect(plainAuthority('dns:echo.default:9090')).toBe('echo.default:9090');
    expect(plainAuthority('dns:///echo.default:9090')).toBe('echo.default:9090');
    expect(plainAuthority('echo.default:9090')).toBe('echo.default:9090');
    expect(plainAuthority('dns:echo.default')).toBe('echo.default:443');
    expect(plainAuthority('unix:/tmp/x.sock')).toBeUndefined();
    expect(plainAuthority('meshwork:///echo.default:9090')).toBeUndefined();
  });

  it('routes plain clients by the VirtualService (unary and streaming), leaves other targets alone, and stops when closed', async () => {
    const infos: GrpcCallInfo[] = [];
    const mesh = new Mesh({ workload: { namespace: 'default', labels: { app: 'caller' } }, telemetry: false, configYaml: echoYaml([v1, v2], ROUTES) });
    const installed = installMesh({ mesh, onCallEnd: (i) => infos.push(i) });
    const plain = new EchoClient('echo.default:9090', grpc.credentials.createInsecure()) as EchoService;
    const withScheme = new EchoClient('dns:///echo.default.svc.cluster.local:9090', grpc.credentials.createInsecure()) as EchoService;
    const direct = new EchoClient(`127.0.0.1:${v2.port}`, grpc.credentials.createInsecure()) as EchoService;
    try {
      expect((await say(plain, 'a')).server).toBe('v1');
      expect((await say(plain, 'b', { metadata: { 'end-user': 'jason' } })).server).toBe('v2');
      expect((await say(withScheme, 'c')).server).toBe('v1');
      expect(infos.map((i) => i.cluster)).toEqual(['outbound|9090|v1|echo.default.svc.cluster.local', 'outbound|9090|v2|echo.default.svc.cluster.local', 'outbound|9090|v1|echo.default.svc.cluster.local']);
      // Not a mesh name: the client's own channel, the mesh not involved.
      expect((await say(direct, 'd', { metadata: { 'end-user': 'jason' } })).server).toBe('v2');
      expect(infos).toHaveLength(3);
      const api = plain as unknown as { Watch(m: Msg): grpc.ClientReadableStream<Msg>; Collect(cb: (e: grpc.ServiceError | null, r: Msg) => void): grpc.ClientWritableStream<Msg> };
      const streamed = await new Promise<string[]>((resolve, reject) => {
        const out: string[] = [];
        const s = api.Watch({ text: 'count:2' });
        s.on('data', (m: Msg) => out.push(m.server!));
        s.on('error', reject);
        s.on('end', () => resolve(out));
      });
      expect(streamed).toEqual(['v1', 'v1']);
      const collected = await new Promise<Msg>((resolve, reject) => {
        const w = api.Collect((e, r) => (e ? reject(e) : resolve(r)));
        setTimeout(() => {
          w.write({ text: 'x' });
          w.write({ text: 'y' });
          w.end();
        }, 5);
      });
      expect(collected).toMatchObject({ text: 'x+y', server: 'v1' });
    } finally {
      installed.close();
    }
    // Closed: the plain client's own channel again, which cannot resolve echo.default through DNS.
    expect(await codeOf(say(plain, 'after', { deadlineMs: 3000 }))).toBe(grpc.status.UNAVAILABLE);
    for (const c of [plain, withScheme, direct]) c.close();
    await mesh.close();
  });

  it('retries a plain unary call on another endpoint (0 failed), and never a streaming one', async () => {
    const bad = await startServer('bad', { failAll: grpc.status.UNAVAILABLE });
    const infos: GrpcCallInfo[] = [];
    const mesh = new Mesh({ workload: { namespace: 'default' }, telemetry: false, configYaml: echoYaml([bad, v1]) });
    const installed = installMesh({ mesh, onCallEnd: (i) => infos.push(i) });
    const plain = new EchoClient('echo.default:9090', grpc.credentials.createInsecure()) as EchoService;
    try {
      for (let i = 0; i < 20; i++) expect((await say(plain, `r${i}`)).server).toBe('v1');
      expect(bad.calls.get('Say') ?? 0).toBeGreaterThan(0);
      expect(infos.filter((i) => i.attempts === 2)).toHaveLength(bad.calls.get('Say')!);
      // Server streaming to the failing endpoint is not retried: the streams it gets fail, none is retried.
      const before = infos.length;
      const codes: number[] = [];
      // 20 streams over two endpoints: none reaching the failing one has odds below one in a million.
      for (let i = 0; i < 20; i++) {
        codes.push(await new Promise<number>((resolve) => {
          const s = (plain as unknown as { Watch(m: Msg): grpc.ClientReadableStream<Msg> }).Watch({ text: 'count:1' });
          s.on('data', () => {});
          s.on('error', (e: grpc.ServiceError) => resolve(e.code));
          s.on('end', () => resolve(0));
        }));
      }
      expect(codes.filter((c) => c === grpc.status.UNAVAILABLE).length).toBeGreaterThan(0);
      expect(infos.slice(before).every((i) => i.attempts === 1)).toBe(true);
    } finally {
      installed.close();
      plain.close();
      await mesh.close();
      await bad.stop();
    }
  });
});
