/** Real node:http servers on 127.0.0.1, port 0, for the data-plane tests. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';

export interface TestServer {
  port: number;
  server: Server;
  hits: number;
  close(): Promise<void>;
}

export async function startServer(handler: (req: IncomingMessage, res: ServerResponse, hit: number) => void): Promise<TestServer> {
  const s: TestServer = { port: 0, server: createServer(), hits: 0, close: async () => {} };
  s.server.on('request', (req, res) => handler(req, res, ++s.hits));
  await new Promise<void>((r) => s.server.listen(0, '127.0.0.1', r));
  s.port = (s.server.address() as AddressInfo).port;
  s.close = () => new Promise<void>((r) => {
    s.server.closeAllConnections();
    s.server.close(() => r());
  });
  return s;
}

/** A server that answers with its name and echoes what the mesh changed. */
export function named(name: string) {
  return startServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ name, path: req.url, host: req.headers.host, attempt: req.headers['x-envoy-attempt-count'], headers: req.headers }));
  });
}

/** WorkloadEntries for a service's endpoints (port name http), as a registry written in YAML. */
export function workloadEntries(service: string, ns: string, endpoints: { port: number; labels: Record<string, string>; name?: string }[]): string {
  return endpoints.map((e, i) => `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ${e.name ?? `${service}-${i}`}, namespace: ${ns}}
spec:
  address: 127.0.0.1
  ports: {http: ${e.port}}
  labels: ${JSON.stringify({ app: service, ...e.labels })}
`).join('---\n');
}

/** A temporary folder removed when the current test finishes (call it inside a test). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}
