// nginx for the mesh security benchmark (security.mjs), built on fetch.mjs's helpers: the sidecar
// pair of fetch.mjs (client sidecar -> server sidecar over mTLS, RSA 2048 certificates) in front of
// the bench's node:http server, and one nginx terminating mesh mTLS itself (part 4) with our CA's
// ECDSA P-256 server certificate, ssl_verify_client on, answering `return 200`.
import { join } from 'node:path';
import { httpBlock, nginxConfigs } from './fetch-nginx.mjs';

/**
 * The client and server sidecars of fetch.mjs, in front of `ports.upstream` (a node:http server
 * that the runner starts and stops per round on that fixed port).
 */
export function pairConfigs(dir, ports, certs, nginxV) {
  const all = nginxConfigs(dir, { ...ports, v1: ports.upstream, v2: ports.upstream }, certs, nginxV);
  return { 'server-sidecar': all['server-sidecar'], 'client-sidecar': all['client-sidecar'] };
}

/**
 * One nginx that terminates mesh mTLS: the server workload's certificate chain and key, client
 * certificates required and chained to the mesh root (no SPIFFE check: nginx has none), a fixed
 * 200. A plaintext port on the same process answers the readiness probe.
 */
export function mtlsTerminatorConfig(dir, ports, identityDir, nginxV) {
  return {
    'mtls-terminator': httpBlock(dir, 'mtls-terminator', nginxV, `
  server {
    listen 127.0.0.1:${ports.probe};
    location / { return 200 "ok\\n"; }
  }
  server {
    listen 127.0.0.1:${ports.tls} ssl;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate ${join(identityDir, 'cert-chain.pem')};
    ssl_certificate_key ${join(identityDir, 'key.pem')};
    ssl_client_certificate ${join(identityDir, 'root-cert.pem')};
    ssl_verify_client on;
    ssl_verify_depth 2;
    location / { return 200 "ok\\n"; }
  }`),
  };
}
