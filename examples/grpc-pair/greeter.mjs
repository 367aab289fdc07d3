// The Greeter service definition, loaded from greeter.proto with @grpc/proto-loader.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const definition = protoLoader.loadSync(fileURLToPath(new URL('./greeter.proto', import.meta.url)), { keepCase: true, defaults: true });
export const Greeter = grpc.loadPackageDefinition(definition).demo.Greeter;
