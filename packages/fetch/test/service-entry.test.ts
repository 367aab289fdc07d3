/** Endpoints from ServiceEntry: STATIC addresses and DNS names (resolved when connecting). */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { request } from 'undici';
import { createMeshDispatcher } from '../src/index.js';
import { named, type TestServer } from './servers.js';

let a: TestServer;
let b: TestServer;
beforeAll(async () => {
  a = await named('static');
  b = await named('dns');
});
afterAll(async () => {
  await a.close();
  await b.close();
});

it('routes to STATIC and DNS ServiceEntry endpoints, with a VirtualService on the SE host', async () => {
  const yaml = `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: payments}
spec:
  hosts: [payments.example.com]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1, ports: {http: ${a.port}}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ledger}
spec:
  hosts: [ledger.example.com]
  resolution: DNS
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: localhost, ports: {http: ${b.port}}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: payments}
spec:
  hosts: [payments.example.com]
  http: [{route: [{destination: {host: payments.example.com}}], headers: {request: {set: {x-via: mesh}}}}]
`;
  const d = createMeshDispatcher({ configYaml: yaml, meshConfig: { outboundTrafficPolicy: 'REGISTRY_ONLY' } });
  const p = await request('http://payments.example.com/charge', { dispatcher: d });
  expect(await p.body.json()).toMatchObject({ name: 'static', path: '/charge', headers: { 'x-via': 'mesh' } });
  const l = await request('http://ledger.example.com/entries', { dispatcher: d });
  expect(await l.body.json()).toMatchObject({ name: 'dns', path: '/entries' });
  const other = await request('http://other.example.com/', { dispatcher: d });
  expect(other.statusCode).toBe(502);
  await other.body.text();
  await d.close();
});
