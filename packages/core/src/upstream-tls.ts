/**
 * The TLS options of a connection to one endpoint, from the policy engine's decision
 * (`Cluster.tlsFor`) and the workload's identity: Istio mTLS with the workload certificate and
 * secure naming, or the DestinationRule's SIMPLE / MUTUAL origination with its files.
 * Built when a pool is made, never per request; every adapter (fetch, gRPC) uses this.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions, PeerCertificate } from 'node:tls';
import { checkServerIdentity, createSecureContext } from 'node:tls';
import { clientTlsOptions, subjectAltNames, type IdentitySource } from '@meshwork/identity';
import type { UpstreamTls } from '@meshwork/policy';
import { Code, MeshError } from './errors.js';

/** File contents by path: DestinationRule certificate files are read once per pool, not per request. */
function readPem(path: string, field: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new MeshError(`DestinationRule tls.${field}: cannot read ${path}: ${(e as Error).message}; fix the path or the file's permissions`, { code: Code.FailedPrecondition, reason: 'tls_file', flag: 'UF', cause: e });
  }
}

/**
 * One secure context for all of a pool's connections: given key/cert/ca, tls.connect parses the
 * PEMs and builds a new context for every connection (a visible cost in new-connection profiles).
 */
function withSecureContext(o: ConnectionOptions): ConnectionOptions {
  const { key, cert, ca, minVersion, ciphers, secureContext: _ignored, ...rest } = o;
  return { ...rest, secureContext: createSecureContext({ key, cert, ca, minVersion, ...(ciphers ? { ciphers } : {}) }) };
}

/** Does one of the certificate's SANs (DNS, URI, IP) equal one of `names`? (identity parses Node's SAN text, quoting included.) */
function sanMatches(cert: PeerCertificate, names: readonly string[]): boolean {
  return subjectAltNames(cert.subjectaltname).some((n) => names.includes(n.value));
}

/**
 * node:tls connect options for `tls` (undefined for plaintext). `host` is the destination's
 * host name, sent as SNI when the DestinationRule sets none (Envoy's auto SNI).
 * Throws a MeshError (flag UF) when the connection cannot be made as configured.
 */
export function connectOptions(tls: UpstreamTls, identity: IdentitySource | undefined, host: string): ConnectionOptions | undefined {
  switch (tls.mode) {
    case 'plaintext':
      return undefined;
    case 'istio': {
      if (!identity) {
        throw new MeshError(`mTLS to ${host} needs a workload certificate: give the Mesh an identity (option identity), or set the DestinationRule's tls.mode to DISABLE`, { code: Code.FailedPrecondition, reason: 'no_identity', flag: 'UF' });
      }
      // allowedIds already holds every trust-domain alias (policy's secureNamingIds): no second expansion here.
      return withSecureContext(clientTlsOptions(identity.current(), { allowedIds: tls.allowedIds, servername: tls.sni }));
    }
    case 'simple':
    case 'mutual': {
      const servername = tls.sni ?? host;
      const opts: ConnectionOptions = {
        servername,
        rejectUnauthorized: !tls.insecureSkipVerify,
        ...(tls.caCertificates ? { ca: readPem(tls.caCertificates, 'caCertificates') } : {}),
      };
      if (tls.mode === 'mutual') {
        if (!tls.clientCertificate || !tls.privateKey) {
          throw new MeshError('DestinationRule tls.mode MUTUAL needs clientCertificate and privateKey (files)', { code: Code.FailedPrecondition, reason: 'tls_file', flag: 'UF' });
        }
        opts.cert = readPem(tls.clientCertificate, 'clientCertificate');
        opts.key = readPem(tls.privateKey, 'privateKey');
      }
      const sans = tls.subjectAltNames;
      if (sans.length > 0) {
        // subjectAltNames replace host-name checking: one of them must be in the certificate.
        opts.checkServerIdentity = (_h, cert) =>
          sanMatches(cert, sans) ? undefined : Object.assign(new Error(`server certificate SANs (${cert.subjectaltname ?? 'none'}) include none of ${sans.join(', ')}`), { code: 'ERR_TLS_CERT_ALTNAME_INVALID' });
      } else if (tls.insecureSkipVerify) {
        opts.checkServerIdentity = () => undefined;
      } else {
        opts.checkServerIdentity = (_h, cert) => checkServerIdentity(servername, cert);
      }
      return withSecureContext(opts);
    }
  }
}
