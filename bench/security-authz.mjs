// Part 3 of the mesh security benchmark (security.mjs): the authorization decision in-process.
// decideInbound on a snapshot of the ten AuthorizationPolicies that the Fastify rows run, and the
// whole Inbound.evaluate of @meshwork/server (attributes from the request and its TLS socket, the
// decision, the per-request context), each beside the same with no policy at all (part 1's server).
// Warm-up, then the median of several batches. Runs in its own process (security.mjs starts it);
// alone: node security-authz.mjs [--quick]. Output: one JSON line.
import { performance } from 'node:perf_hooks';
import {
  AUTHZ_REQUEST, AUTHZ_YAML, CLIENT_ID, MESH_HOST, MESH_PORT, PERMISSIVE_YAML, SERVER, loadCore, loadPolicy, loadServer,
} from './security-config.mjs';

const quick = process.argv.includes('--quick');
const BATCH = quick ? 50_000 : 100_000;
const ROUNDS = quick ? 7 : 11;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
let sink = 0;

/** ns per call of fn(i): one warm-up batch, then the median of ROUNDS batches. */
function nsPerOp(fn) {
  for (let i = 0; i < BATCH; i++) fn(i);
  const samples = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    for (let i = 0; i < BATCH; i++) fn(i);
    samples.push(((performance.now() - t0) * 1e6) / BATCH);
  }
  return { ns: median(samples), min: Math.min(...samples), max: Math.max(...samples) };
}

/** Config errors fail the bench: a policy the validator dropped would make the figures meaningless. */
function resourcesOf(policy, yaml) {
  const loaded = policy.loadText(yaml, 'security-config.yaml');
  const v = policy.validateResources(loaded.resources);
  const bad = [...loaded.diagnostics, ...v.diagnostics].filter((d) => d.severity === 'error' || d.severity === 'warning');
  if (bad.length > 0 || v.valid.length !== loaded.resources.length) {
    throw new Error(`config not accepted as is: ${bad.map((d) => `${d.resource ?? ''} ${d.path ?? ''}: ${d.message}`).join('; ') || 'resources dropped'}`);
  }
  return v.valid;
}

// The requests: the path varies (as in the Fastify rows), the rest as the server sees it.
const PATHS = Array.from({ length: 512 }, (_, i) => AUTHZ_REQUEST.path(i));
const HEADERS = { host: `${MESH_HOST}:${MESH_PORT}`, ...AUTHZ_REQUEST.headers };
const PRINCIPAL = CLIENT_ID.slice('spiffe://'.length);

export async function run() {
  const [policy, { Mesh }, { createInbound }] = await Promise.all([loadPolicy(), loadCore(), loadServer()]);
  const out = {};

  // decideInbound, exactly as Inbound.authorize calls it.
  const decideReqs = PATHS.map((target) => ({
    port: MESH_PORT, principal: PRINCIPAL, sourceIp: '127.0.0.1', destinationIp: '127.0.0.1',
    method: AUTHZ_REQUEST.method, target, headers: HEADERS, sni: undefined, jwtClaims: undefined, numTrustedProxies: 1,
  }));
  for (const [key, yaml] of [['authz', AUTHZ_YAML], ['none', PERMISSIVE_YAML]]) {
    const snap = policy.compileSnapshot(resourcesOf(policy, yaml), SERVER);
    const d = policy.decideInbound(snap, decideReqs[0]);
    out[key] = {
      policies: snap.inbound.authorization.length,
      check: { decision: d.decision, policy: d.policy ? `${d.policy.namespace}/${d.policy.name}` : null, connection: d.connection },
      decide: nsPerOp((i) => { sink += policy.decideInbound(snap, decideReqs[i & 511]).rule ?? 1; }),
    };
  }
  // A request the policies deny, for the record (DELETE, stopped by the third DENY policy).
  const snap = policy.compileSnapshot(resourcesOf(policy, AUTHZ_YAML), SERVER);
  const denied = policy.decideInbound(snap, { ...decideReqs[0], method: 'DELETE' });
  out.authz.deniedCheck = { decision: denied.decision, policy: denied.policy ? `${denied.policy.namespace}/${denied.policy.name}` : null };
  out.authz.decideDenied = nsPerOp(() => { sink += policy.decideInbound(snap, { ...decideReqs[0], method: 'DELETE' }).rule ?? 1; });

  // Inbound.evaluate: a fresh request object per call (the per-request context is a WeakMap entry
  // keyed by it, as in a server), on 32 "keep-alive connections" whose peer IDs are cached.
  const sockets = Array.from({ length: 32 }, () => ({
    encrypted: true, authorized: true, localPort: MESH_PORT, remoteAddress: '::ffff:127.0.0.1', localAddress: '::ffff:127.0.0.1', servername: false,
    getPeerCertificate: () => ({ subjectaltname: `URI:${CLIENT_ID}` }),
  }));
  for (const [key, yaml] of [['authz', AUTHZ_YAML], ['none', PERMISSIVE_YAML]]) {
    const mesh = new Mesh({ workload: SERVER, configYaml: yaml });
    const inbound = createInbound({ mesh });
    const evaluate = (i) => inbound.evaluate({ method: 'GET', url: PATHS[i & 511], headers: HEADERS, socket: sockets[i & 31] });
    const v = evaluate(0);
    if (v instanceof Promise) throw new Error('Inbound.evaluate returned a Promise: a JWT rule applies?');
    out[key].evaluateCheck = { action: v.action, decision: v.context.decision, policy: v.context.policy, principal: v.context.principal };
    out[key].evaluate = nsPerOp((i) => { sink += evaluate(i).action === 'continue' ? 1 : 0; });
    inbound.close();
    mesh.close();
  }
  out.batch = BATCH;
  out.rounds = ROUNDS;
  if (sink < 0) console.error(sink);
  return out;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  run().then(
    (r) => { process.stdout.write(`${JSON.stringify({ status: 'ok', ...r })}\n`); },
    (err) => { process.stdout.write(`${JSON.stringify({ status: 'failed', error: String(err.stack ?? err) })}\n`); },
  );
}
