/** examples/grpc-pair runs as users run it: a control service, two gRPC servers and a client in four processes. */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const example = resolve(fileURLToPath(import.meta.url), '../../../examples/grpc-pair/index.mjs');

it('the gRPC pair routes by metadata, carries the mTLS identity and enforces authorization', () => {
  const out = execFileSync(process.execPath, [example], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, MESHWORK_EXAMPLE_JSON: '1' } });
  const seen = JSON.parse(out.trim().split('\n').pop()!);
  expect(seen.plain).toEqual({ calls: 20, failed: 0, versions: { v1: 20 }, callers: { 'cluster.local/ns/default/sa/greeter-client': 20 } });
  expect(seen.beta).toEqual({ calls: 20, failed: 0, versions: { v2: 20 }, callers: { 'cluster.local/ns/default/sa/greeter-client': 20 } });
  expect(seen.shout).toEqual({ code: 7, details: 'RBAC: access denied' });
  expect(out).toContain('All of it held');
});
