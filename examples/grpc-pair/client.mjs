// The client of the example pair, in its own process, joined to the mesh from its environment:
// calls greeter.default:50051 through @meshwork/grpc. Which server answers, whether the call is
// mTLS, whether it is allowed: all of it is the Istio YAML the control service pushed.
// Prints one JSON line: what it saw.
import * as grpc from '@grpc/grpc-js';
import { Mesh } from '@meshwork/core';
import { createMeshClient } from '@meshwork/grpc';
import { Greeter } from './greeter.mjs';

const calls = Number(process.argv[2] ?? 20);
const mesh = new Mesh({ onControlError: (m) => process.stderr.write(`client: ${m}\n`) });
await mesh.ready();
const client = createMeshClient(Greeter, 'greeter.default:50051', { mesh });

const call = (method, name, metadata = {}) => new Promise((resolve) => {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(metadata)) md.set(k, v);
  client[method]({ name }, md, { deadline: Date.now() + 5000 }, (err, r) => resolve(err ? { code: err.code, details: err.details } : { code: 0, ...r }));
});

// The servers register their ports as they start: wait (up to 10 s) until one answers.
for (let i = 0; i < 100 && (await call('SayHello', 'warm-up')).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));

const tally = (results) => {
  const out = { calls: results.length, failed: 0, versions: {}, callers: {} };
  for (const r of results) {
    if (r.code !== 0) out.failed++;
    else {
      out.versions[r.version] = (out.versions[r.version] ?? 0) + 1;
      out.callers[r.caller] = (out.callers[r.caller] ?? 0) + 1;
    }
  }
  return out;
};
const plain = tally(await Promise.all(Array.from({ length: calls }, (_, i) => call('SayHello', `n${i}`))));
const beta = tally(await Promise.all(Array.from({ length: calls }, (_, i) => call('SayHello', `b${i}`, { 'x-tier': 'beta' }))));
const shout = await call('Shout', 'nope');
process.stdout.write(`${JSON.stringify({ plain, beta, shout: { code: shout.code, details: shout.details } })}\n`);
client.close();
await mesh.close();
process.exit(0);
