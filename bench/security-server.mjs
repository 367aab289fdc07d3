// One measured server of the mesh security benchmark (security.mjs), in its own process so that
// its CPU time is its own (the client reads /proc/<pid>/task/*/schedstat around each window).
// Input: one JSON argument { kind, port, identityDir, telemetry }; prints one JSON line { ready, port, pid }
// once listening; exits on SIGTERM, or when the runner goes away (stdin closes).
//
// kinds:
//   http          bare node:http, the trivial handler
//   mesh          createMeshServer, PERMISSIVE, pipeline on, no policies (plaintext and mTLS on one port)
//   https         bare node:https with the mesh certificate, client certificates required (part 4's reference)
//   fastify-bare  Fastify over https, client certificates required, the same certificate
//   fastify-mesh  Fastify behind meshServerFactory + meshworkPlugin, STRICT, ten AuthorizationPolicies
import http from 'node:http';
import https from 'node:https';
import {
  AUTHZ_YAML, PERMISSIVE_YAML, SERVER, loadCore, loadFastify, loadFastifyAdapter, loadIdentity, loadServer,
} from './security-config.mjs';

const cfg = JSON.parse(process.argv[2]);
const OK = 'ok\n';
/** The runner's --no-telemetry: the server's Mesh without metrics, spans and the peer-metadata exchange. */
const meshTelemetry = cfg.telemetry === false ? { telemetry: false } : {};
/** Connections accepted so far (a keep-alive row that reconnects shows here). */
let connections = 0;

/** What the probes ask the server (never during measurement): what the pipeline saw. */
function whoami(ctx, socket) {
  return JSON.stringify({
    mtls: ctx ? ctx.mtls : socket.encrypted === true,
    principal: ctx?.principal ?? null,
    decision: ctx?.decision ?? null,
    policy: ctx?.policy ?? null,
    alpn: socket.alpnProtocol || null,
    connections,
  });
}

async function identitySource() {
  const { createFileIdentitySource } = await loadIdentity();
  // The workload certificate as mounted files (Istio's /etc/certs layout), read once: no watcher, no poll.
  return createFileIdentitySource({ dir: cfg.identityDir, watch: false, pollIntervalMs: 0 });
}

async function start() {
  const closers = [];
  let server;
  if (cfg.kind === 'http' || cfg.kind === 'https' || cfg.kind === 'mesh') {
    let meshworkOf = () => undefined;
    if (cfg.kind === 'mesh') ({ meshworkOf } = await loadServer());
    const handler = (req, res) => {
      if (req.url === '/whoami' || req.url === '/api/v1/products/whoami') {
        res.setHeader('content-type', 'application/json');
        res.end(whoami(meshworkOf(req), req.socket));
        return;
      }
      res.end(OK);
    };
    if (cfg.kind === 'http') {
      server = http.createServer(handler);
    } else if (cfg.kind === 'https') {
      const { serverTlsOptions } = await loadIdentity();
      const identity = await identitySource();
      server = https.createServer(serverTlsOptions(identity.current()), handler);
      server.on('tlsClientError', (_e, socket) => socket.destroy());
      closers.push(() => identity.close());
    } else {
      const [{ Mesh }, { createMeshServer }] = await Promise.all([loadCore(), loadServer()]);
      const identity = await identitySource();
      const mesh = new Mesh({ workload: SERVER, configYaml: PERMISSIVE_YAML, identity, ...meshTelemetry });
      server = createMeshServer(handler, { mesh, identity });
      closers.push(() => mesh.close(), () => identity.close());
    }
    await new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(cfg.port, '127.0.0.1', resolve);
    });
    closers.unshift(() => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }));
  } else if (cfg.kind === 'fastify-bare' || cfg.kind === 'fastify-mesh') {
    const Fastify = await loadFastify();
    const identity = await identitySource();
    closers.push(() => identity.close());
    let app;
    if (cfg.kind === 'fastify-bare') {
      const m = identity.current();
      app = Fastify({ https: { key: m.keyPem, cert: m.certChainPem, ca: [...m.rootsPem], requestCert: true, rejectUnauthorized: true } });
    } else {
      const [{ Mesh }, { createInbound }, { meshServerFactory, meshworkPlugin }] = await Promise.all([loadCore(), loadServer(), loadFastifyAdapter()]);
      const mesh = new Mesh({ workload: SERVER, configYaml: AUTHZ_YAML, identity, ...meshTelemetry });
      const inbound = createInbound({ mesh });
      app = Fastify({ serverFactory: meshServerFactory({ inbound, identity }) });
      await app.register(meshworkPlugin, { inbound });
      closers.push(() => inbound.close(), () => mesh.close());
    }
    app.get('/api/v1/products/:id', (request, reply) => {
      if (request.params.id === 'whoami') {
        reply.type('application/json').send(whoami(request.meshwork, request.raw.socket));
        return;
      }
      reply.send(OK);
    });
    // Reached only by the probe that checks the policies are enforced (the meshed app must answer 403).
    app.delete('/api/v1/products/:id', (_request, reply) => { reply.send('deleted\n'); });
    await app.listen({ port: cfg.port, host: '127.0.0.1' });
    server = app.server;
    closers.unshift(() => { server.closeAllConnections?.(); return app.close(); });
  } else {
    throw new Error(`unknown server kind ${cfg.kind}`);
  }
  server.on('connection', () => { connections++; });
  return { port: server.address().port, closers };
}

let closers = [];
let exiting = false;
async function exit(code) {
  if (exiting) return;
  exiting = true;
  const timer = setTimeout(() => process.exit(code), 2000);
  for (const c of closers) {
    try { await c(); } catch { /* exiting anyway */ }
  }
  clearTimeout(timer);
  process.exit(code);
}
process.on('SIGTERM', () => exit(0));
process.on('SIGINT', () => exit(0));
// The runner holds our stdin open; when it dies, so do we.
process.stdin.on('end', () => exit(0)).on('error', () => exit(0)).resume();

start().then(
  (r) => {
    closers = r.closers;
    process.stdout.write(`${JSON.stringify({ ready: true, port: r.port, pid: process.pid })}\n`);
  },
  (err) => {
    process.stderr.write(`server ${cfg.kind} failed: ${err.stack ?? err}\n`);
    process.exit(1);
  },
);
