// The upstream of the gRPC benchmark: a bare grpc-js server on 127.0.0.1 (port 0), in its own
// process; prints its port, then answers every call with the request's bytes.
import * as grpc from '@grpc/grpc-js';
import { service } from './grpc-common.mjs';

const server = new grpc.Server();
server.addService(service, { echo: (call, cb) => cb(null, call.request) });
server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) throw err;
  process.stdout.write(`${JSON.stringify({ port })}\n`);
});
process.on('SIGTERM', () => server.forceShutdown());
