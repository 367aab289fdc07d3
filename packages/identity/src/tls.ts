/**
 * node:tls / node:https options for mesh mTLS, the peer's SPIFFE ID, and secure naming (the
 * client accepts a server only if its SPIFFE ID is one the destination runs as, reference §12).
 */
import { DEFAULT_CIPHERS, type PeerCertificate, type SecureContextOptions, type TLSSocket, type TlsOptions, type ConnectionOptions, type Server as TlsServer } from 'node:tls';
import { MESH_ALPN } from './defaults.js';
import { IdentityError } from './errors.js';
import { firstSpiffeUri } from './pem.js';
import type { Disposable, IdentityMaterial, IdentitySource } from './source.js';
import { sameIdentity, type TrustDomainAliases } from './spiffe.js';

/** Options of {@link serverTlsOptions}. */
export interface ServerTlsOptions {
  /**
   * Ask clients for a certificate (default true). A STRICT server also rejects clients without a
   * valid one (`rejectUnauthorized`, default true); a PERMISSIVE server sets it false and reads
   * `peerSpiffeId()`, which is undefined for an unverified peer.
   */
  requestCert?: boolean;
  rejectUnauthorized?: boolean;
  /** ALPN protocols, in preference order (default `istio-peer-exchange`, `istio`, `http/1.1`). */
  alpnProtocols?: readonly string[];
}

/** Options of {@link clientTlsOptions}. */
export interface ClientTlsOptions {
  /**
   * The SPIFFE IDs the server may present (the service accounts of the destination service, or
   * the DestinationRule's `subjectAltNames`). Empty: any identity the mesh CA issued, as Istio
   * does when it knows no service account.
   */
  allowedIds: readonly string[];
  /** Trust domains that count as the same (the mesh config, or every name of the group). */
  trustDomainAliases?: TrustDomainAliases;
  /** SNI to send (Istio's form is `outbound_.<port>_.<subset>_.<host>`); not used for naming. */
  servername?: string;
  /** ALPN protocols offered (default `istio-peer-exchange`, `istio`, `http/1.1`; add `h2` for HTTP/2). */
  alpnProtocols?: readonly string[];
}

/**
 * TLS 1.3 suites in Envoy's (BoringSSL's) order, AES-128-GCM first, as between two sidecars;
 * OpenSSL's default puts AES-256-GCM first, which costs more per record for the same security
 * level the mesh asks for.
 */
export const MESH_TLS13_CIPHERSUITES = 'TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256';
// Node takes TLS 1.3 suites in the `ciphers` string; Node's TLS 1.2 defaults follow unchanged.
const MESH_CIPHERS = [MESH_TLS13_CIPHERSUITES, ...DEFAULT_CIPHERS.split(':').filter((c) => !c.startsWith('TLS_'))].join(':');

/** The key, certificate chain and roots of a material, as `tls.createSecureContext` options. */
export function secureContextOptions(m: IdentityMaterial): SecureContextOptions {
  return { key: m.keyPem, cert: m.certChainPem, ca: [...m.rootsPem], minVersion: 'TLSv1.2', ciphers: MESH_CIPHERS };
}

/**
 * Options for `tls.createServer` / `https.createServer` (and `server.setSecureContext`): the
 * workload's key and chain, the mesh roots as the only trusted CAs, client certificates
 * requested and required, and Istio's ALPN.
 *
 * @example
 * ```ts
 * const server = https.createServer(serverTlsOptions(source.current()), handler);
 * ```
 */
export function serverTlsOptions(m: IdentityMaterial, options: ServerTlsOptions = {}): TlsOptions {
  return { ...secureContextOptions(m), ...serverTlsSettings(options) };
}

/**
 * The part of {@link serverTlsOptions} that is not the secure context: client certificates
 * requested and required, Istio's ALPN. A server created before its first certificate exists
 * (it comes later through `setSecureContext`) needs these at creation, since
 * `setSecureContext` does not change them.
 */
export function serverTlsSettings(options: ServerTlsOptions = {}): TlsOptions {
  return {
    requestCert: options.requestCert ?? true,
    rejectUnauthorized: options.rejectUnauthorized ?? true,
    ALPNProtocols: [...(options.alpnProtocols ?? MESH_ALPN)],
  };
}

/**
 * Options for `tls.connect` / `https.request`: the workload's certificate, the mesh roots, and
 * a `checkServerIdentity` that does secure naming instead of host-name checking (a mesh
 * certificate names a service account, not a host). The error it returns is the one
 * {@link verifySecureNaming} makes; Node destroys the socket with it.
 *
 * Node skips `checkServerIdentity` on a resumed TLS session (the server proved its identity
 * when the session began); a caller whose allowed identities can change for the same endpoint
 * should check `verifySecureNaming(peerSpiffeId(socket), ...)` after connecting as well.
 */
export function clientTlsOptions(m: IdentityMaterial, options: ClientTlsOptions): ConnectionOptions {
  const allowed = [...options.allowedIds];
  const aliases = options.trustDomainAliases;
  return {
    ...secureContextOptions(m),
    ...(options.servername !== undefined ? { servername: options.servername } : {}),
    rejectUnauthorized: true,
    ALPNProtocols: [...(options.alpnProtocols ?? MESH_ALPN)],
    checkServerIdentity: (_host: string, cert: PeerCertificate): Error | undefined =>
      verifySecureNaming(firstSpiffeUri(cert.subjectaltname), allowed, aliases) ?? undefined,
  };
}

/**
 * Secure naming: `null` when `peerSpiffeId` is one of `allowedIds` (or the same identity in an
 * aliased trust domain), else an {@link IdentityError} `secure_naming_mismatch` whose message
 * names the expected IDs and the one presented. An empty `allowedIds` accepts any peer.
 *
 * @example
 * ```ts
 * const err = verifySecureNaming(peerSpiffeId(socket), ['spiffe://cluster.local/ns/default/sa/reviews']);
 * if (err) socket.destroy(err); // the fetch data plane reports it with response flag UF
 * ```
 */
export function verifySecureNaming(peerSpiffeId: string | undefined, allowedIds: readonly string[], aliases?: TrustDomainAliases): IdentityError | null {
  if (allowedIds.length === 0) return null;
  if (peerSpiffeId !== undefined) {
    for (const id of allowedIds) if (id === peerSpiffeId || sameIdentity(id, peerSpiffeId, aliases)) return null;
  }
  const expected = allowedIds.length === 1 ? allowedIds[0]! : `one of ${allowedIds.join(', ')}`;
  const presented = peerSpiffeId === undefined ? 'no SPIFFE ID (its certificate has no spiffe:// URI SAN)' : peerSpiffeId;
  return new IdentityError(`secure naming: expected ${expected}, the peer presented ${presented}`, {
    reason: 'secure_naming_mismatch', expected: [...allowedIds], presented: peerSpiffeId,
  });
}

const peerIds = new WeakMap<TLSSocket, string | null>();

/**
 * The SPIFFE ID of a TLS peer: its certificate's first `spiffe://` URI SAN, only when the
 * certificate chain was verified (`socket.authorized`); undefined for plaintext, for a peer
 * without a certificate, and for an unverified one (a PERMISSIVE server must not believe a
 * self-made certificate). Cached per socket: cheap to call on every request of a keep-alive
 * connection.
 */
export function peerSpiffeId(socket: TLSSocket): string | undefined {
  if (!socket || socket.encrypted !== true || socket.authorized !== true) return undefined;
  const cached = peerIds.get(socket);
  if (cached !== undefined) return cached ?? undefined;
  // On a client socket Node (20, 24) hands the peer certificate out only once through
  // getPeerX509Certificate, after which both getters return nothing: use getPeerCertificate
  // there. A socket accepted by a tls.Server (it carries `server`) answers
  // getPeerX509Certificate every time, about 8x faster (3.6 vs 29 us), once per connection.
  const serverSide = (socket as TLSSocket & { server?: unknown }).server !== undefined;
  const id = firstSpiffeUri(serverSide ? socket.getPeerX509Certificate()?.subjectAltName : socket.getPeerCertificate(false)?.subjectaltname);
  peerIds.set(socket, id ?? null);
  return id;
}

/**
 * Keeps a TLS server's certificate in step with a source: each new key, chain and trust bundle
 * is installed with `server.setSecureContext`, so new handshakes use it while open connections
 * carry on. The server's own settings (`requestCert`, `rejectUnauthorized`, ALPN) are not part
 * of the secure context and stay as the server was created. Returns a disposable that stops
 * following.
 */
export function bindServerIdentity(server: TlsServer, source: IdentitySource): Disposable {
  return source.on('change', (m) => { server.setSecureContext(secureContextOptions(m)); });
}
