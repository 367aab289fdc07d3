// One Greeter server of the example pair, in its own process, configured only by its
// environment (MESHWORK_CONTROL_URL, MESHWORK_TOKEN, MESHWORK_CONTROL_CA, MESHWORK_NAMESPACE,
// MESHWORK_SERVICE): it joins the control service, gets its certificate, and serves gRPC on
// one port with mTLS per PeerAuthentication (STRICT here) and the AuthorizationPolicy in force.
//
//   node server.mjs v1|v2
import { Mesh } from '@meshwork/core';
import { MeshGrpcServer, meshworkOf } from '@meshwork/grpc';
import { Greeter } from './greeter.mjs';

const version = process.argv[2] ?? 'v1';
const mesh = new Mesh({ onControlError: (m) => process.stderr.write(`greeter-${version}: ${m}\n`) });
const server = new MeshGrpcServer({ mesh });
const reply = (call, message) => ({ message, version, caller: meshworkOf(call.metadata)?.principal ?? 'anonymous' });
server.addService(Greeter.service, {
  SayHello: (call, cb) => cb(null, reply(call, `Hello, ${call.request.name}`)),
  Shout: (call, cb) => cb(null, reply(call, `HELLO, ${call.request.name.toUpperCase()}`)),
});
// Listens once the mesh is ready (snapshot and certificate), and tells the control service its port.
const port = await server.bindMesh('127.0.0.1:0');
process.stdout.write(`${JSON.stringify({ version, port })}\n`);

const stop = async () => {
  server.forceShutdown();
  await mesh.close();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
