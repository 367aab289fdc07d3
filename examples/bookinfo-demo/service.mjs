// One Bookinfo workload of the live demo, in its own process, configured only by the
// environment a real deployment would set:
//   MESHWORK_CONTROL_URL, MESHWORK_TOKEN, MESHWORK_CONTROL_CA   where the control service is
//   MESHWORK_NAMESPACE, MESHWORK_SERVICE                          which WorkloadGroup it joins
//   MESHWORK_CACHE_DIR                                            last snapshot and certificate
// It registers, gets a certificate for its service account, watches its snapshot, and serves
// on 127.0.0.1 with mTLS (PeerAuthentication STRICT). Calls to other services are plain fetch().
//
//   node service.mjs productpage|details|reviews-v1|reviews-v2|reviews-v3|ratings
import express from 'express';
import Fastify from 'fastify';
import { Mesh } from '@meshwork/core';
import { installMesh } from '@meshwork/fetch';
import { createInbound, createMeshServer, meshworkOf } from '@meshwork/server';
import { meshworkMiddleware } from '@meshwork/express';
import { meshServerFactory, meshworkPlugin } from '@meshwork/fastify';

const role = process.argv[2];
const mesh = new Mesh({ onControlError: (m) => process.stderr.write(`${role}: ${m}\n`) });
// Node's own fetch() now goes through the mesh: routing, mTLS, retries, faults.
const installed = installMesh({ mesh });
const inbound = createInbound({ mesh });

/** GET a JSON document from another Bookinfo service; a failure is a value, as in Bookinfo. */
async function get(url, user) {
  try {
    const res = await fetch(url, { headers: user ? { 'end-user': user } : {}, signal: AbortSignal.timeout(3000) });
    if (!res.ok) return { error: `${res.status}` };
    return await res.json();
  } catch (e) {
    return { error: e.cause?.code ?? e.message };
  }
}

let server;
let closeApp = async () => {};
if (role === 'productpage') {
  // Express, with the mesh's pipeline as a middleware.
  const app = express();
  app.use(meshworkMiddleware({ inbound }));
  app.get('/productpage', async (req, res) => {
    const user = typeof req.query.u === 'string' ? req.query.u : undefined;
    const [details, reviews] = await Promise.all([get('http://details:9080/details/0', user), get('http://reviews:9080/reviews/0', user)]);
    res.json({ caller: req.meshwork?.principal ?? null, details, reviews });
  });
  server = createMeshServer(app, { inbound, pipeline: false });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
} else if (role === 'details') {
  // Fastify, behind the mesh's one-port mTLS listener.
  const app = Fastify({ serverFactory: meshServerFactory({ inbound }) });
  await app.register(meshworkPlugin, { inbound });
  app.get('/details/:id', async (request) => ({ id: Number(request.params.id), author: 'William Shakespeare', caller: request.meshwork?.principal ?? null }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  server = app.server;
  closeApp = () => app.close();
} else if (role.startsWith('reviews-')) {
  // node:http through createMeshServer. v1 shows no stars; v2 and v3 ask ratings.
  const version = role.slice('reviews-'.length);
  server = createMeshServer(async (req, res) => {
    const body = { version, caller: meshworkOf(req)?.principal ?? null };
    if (version !== 'v1') {
      const r = await get('http://ratings:9080/ratings/0', req.headers['end-user']);
      body.ratings = r.error ? { error: r.error } : r;
    }
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body));
  }, { inbound });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
} else if (role === 'ratings') {
  server = createMeshServer((req, res) => {
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify({ id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 }, caller: meshworkOf(req)?.principal ?? null }));
  }, { inbound });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
} else {
  throw new Error(`unknown role ${role}`);
}

process.stdout.write(`${JSON.stringify({ role, port: server.address().port })}\n`);

const stop = async () => {
  server.closeAllConnections?.();
  await closeApp();
  await new Promise((r) => server.close(() => r()));
  await installed.close();
  await mesh.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
