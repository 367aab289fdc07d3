/**
 * Mesh mTLS over real sockets on 127.0.0.1: handshakes, the peer's SPIFFE ID, secure naming,
 * what the handshake refuses (expired, not yet valid, foreign CA, no certificate), root
 * rotation, and certificate rotation under load with no failed request.
 */
import https from 'node:https';
import type { TLSSocket } from 'node:tls';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CertificateAuthority, IdentityError, certificateInfo, MESH_ALPN, TrustBundle, bindServerIdentity, clientTlsOptions, createCaIdentitySource,
  issueIdentity, serverTlsOptions, type IdentityMaterial,
} from '../src/index.js';
import { failure, request, startServer, success } from './support.js';

const REVIEWS = 'spiffe://cluster.local/ns/default/sa/reviews';
const PRODUCTPAGE = 'spiffe://cluster.local/ns/default/sa/productpage';
const RATINGS = 'spiffe://cluster.local/ns/default/sa/ratings';
const HOUR = 3_600_000;
/** OpenSSL's verdicts for a certificate that does not lead to a trusted root. */
const UNTRUSTED = ['UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'SELF_SIGNED_CERT_IN_CHAIN', 'CERT_SIGNATURE_FAILURE'];

let ca: CertificateAuthority;
let reviews: IdentityMaterial;
let productpage: IdentityMaterial;

beforeAll(async () => {
  ca = await CertificateAuthority.selfSigned();
  reviews = await issueIdentity(ca, { spiffeId: REVIEWS });
  productpage = await issueIdentity(ca, { spiffeId: PRODUCTPAGE });
});

describe('mutual TLS between two workload certificates', () => {
  it('handshakes, and each side reads the other\'s SPIFFE ID', async () => {
    const s = await startServer(serverTlsOptions(reviews));
    const out = success(await request(s.port, clientTlsOptions(productpage, { allowedIds: [REVIEWS] })));
    expect(out.status).toBe(200);
    expect(out.body).toBe(PRODUCTPAGE); // the server read the client's ID
    expect(out.serverId).toBe(REVIEWS); // the client read the server's ID
    expect(s.peers).toEqual([PRODUCTPAGE]);
    expect(out.alpn).toBe('istio-peer-exchange');
  });

  it('works with RSA 2048 keys and an RSA root too', async () => {
    const rsaCa = await CertificateAuthority.selfSigned({ keyType: 'rsa-2048' });
    const server = await issueIdentity(rsaCa, { spiffeId: REVIEWS, keyType: 'rsa-2048' });
    const client = await issueIdentity(rsaCa, { spiffeId: PRODUCTPAGE });
    const s = await startServer(serverTlsOptions(server));
    expect(success(await request(s.port, clientTlsOptions(client, { allowedIds: [REVIEWS] }))).body).toBe(PRODUCTPAGE);
  });

  it('serves a chain through an intermediate to peers that trust only the root', async () => {
    const intermediate = await CertificateAuthority.fromPem(await ca.signIntermediate({ commonName: 'cluster-east' }));
    const server = await issueIdentity(intermediate, { spiffeId: REVIEWS });
    expect(server.rootsPem).toEqual(ca.rootsPem);
    const s = await startServer(serverTlsOptions(server));
    // productpage's certificate comes straight from the root; reviews' through the intermediate.
    const out = success(await request(s.port, clientTlsOptions(productpage, { allowedIds: [REVIEWS] })));
    expect([out.body, out.serverId]).toEqual([PRODUCTPAGE, REVIEWS]);
  });
});

describe('secure naming', () => {
  it('rejects a server running as another service account, naming both identities', async () => {
    const s = await startServer(serverTlsOptions(reviews));
    const err = failure(await request(s.port, clientTlsOptions(productpage, { allowedIds: [RATINGS] })));
    expect(err).toBeInstanceOf(IdentityError);
    expect(err.reason).toBe('secure_naming_mismatch');
    expect(err.message).toContain(RATINGS); // expected
    expect(err.message).toContain(REVIEWS); // presented
    expect(err.message).toBe(`secure naming: expected ${RATINGS}, the peer presented ${REVIEWS}`);
    expect(s.peers).toEqual([]); // no request reached the wrong server
  });

  it('accepts the same identity written in an aliased trust domain', async () => {
    const s = await startServer(serverTlsOptions(reviews));
    const old = 'spiffe://old.example/ns/default/sa/reviews';
    const refused = failure(await request(s.port, clientTlsOptions(productpage, { allowedIds: [old] })));
    expect(refused.message).toContain(old);
    const tls = clientTlsOptions(productpage, { allowedIds: [old], trustDomainAliases: { trustDomain: 'cluster.local', trustDomainAliases: ['old@example'] } });
    expect(success(await request(s.port, tls)).serverId).toBe(REVIEWS);
  });

  it('accepts any mesh identity when no service account is known (Istio: empty SAN list)', async () => {
    const s = await startServer(serverTlsOptions(reviews));
    expect(success(await request(s.port, clientTlsOptions(productpage, { allowedIds: [] }))).serverId).toBe(REVIEWS);
  });
});

describe('the handshake refuses', () => {
  const past = { notBefore: new Date(Date.now() - 48 * HOUR), notAfter: new Date(Date.now() - 24 * HOUR) };
  const future = { notBefore: new Date(Date.now() + 24 * HOUR), notAfter: new Date(Date.now() + 48 * HOUR) };

  it('an expired server certificate', async () => {
    const s = await startServer(serverTlsOptions(await issueIdentity(ca, { spiffeId: REVIEWS, ...past })));
    expect(failure(await request(s.port, clientTlsOptions(productpage, { allowedIds: [REVIEWS] }))).code).toBe('CERT_HAS_EXPIRED');
  });

  it('an expired client certificate', async () => {
    const s = await startServer(serverTlsOptions(reviews));
    const client = await issueIdentity(ca, { spiffeId: PRODUCTPAGE, ...past });
    failure(await request(s.port, clientTlsOptions(client, { allowedIds: [REVIEWS] })));
    expect(s.peers).toEqual([]);
    expect(s.clientErrors.map((e) => e.authorizationError)).toEqual(['CERT_HAS_EXPIRED']);
  });

  it('a server certificate that is not valid yet', async () => {
    const s = await startServer(serverTlsOptions(await issueIdentity(ca, { spiffeId: REVIEWS, ...future })));
    expect(failure(await request(s.port, clientTlsOptions(productpage, { allowedIds: [REVIEWS] }))).code).toBe('CERT_NOT_YET_VALID');
  });

  it('a client certificate that is not valid yet', async () => {
    const s = await startServer(serverTlsOptions(reviews));
    failure(await request(s.port, clientTlsOptions(await issueIdentity(ca, { spiffeId: PRODUCTPAGE, ...future }), { allowedIds: [REVIEWS] })));
    expect(s.peers).toEqual([]);
    expect(s.clientErrors.map((e) => e.authorizationError)).toEqual(['CERT_NOT_YET_VALID']);
  });

  it('a server certificate from a foreign CA', async () => {
    const foreign = await CertificateAuthority.selfSigned();
    const s = await startServer(serverTlsOptions(await issueIdentity(foreign, { spiffeId: REVIEWS })));
    const err = failure(await request(s.port, clientTlsOptions(productpage, { allowedIds: [REVIEWS] })));
    // OpenSSL completes the server's chain with its own (foreign) root, hence "self-signed in chain".
    expect(UNTRUSTED).toContain(err.code);
  });

  it('a client certificate from a foreign CA, even one claiming a valid identity', async () => {
    const foreign = await CertificateAuthority.selfSigned();
    const s = await startServer(serverTlsOptions(reviews));
    const forged = await issueIdentity(foreign, { spiffeId: PRODUCTPAGE });
    failure(await request(s.port, { ...clientTlsOptions(forged, { allowedIds: [] }), ca: [...reviews.rootsPem] }));
    expect(s.peers).toEqual([]);
    expect(UNTRUSTED).toContain(s.clientErrors[0]?.authorizationError);
  });

  it('a client without a certificate (STRICT)', async () => {
    const s = await startServer(serverTlsOptions(reviews));
    const err = failure(await request(s.port, { ca: [...reviews.rootsPem], ALPNProtocols: [...MESH_ALPN], checkServerIdentity: () => undefined }));
    expect(err.code).toBe('ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED');
    expect(s.peers).toEqual([]);
    expect(s.clientErrors[0]?.message).toMatch(/peer did not return a certificate/);
  });

  it('nothing under PERMISSIVE, where an unverified or missing certificate gives no identity', async () => {
    const s = await startServer(serverTlsOptions(reviews, { rejectUnauthorized: false }));
    const foreign = await CertificateAuthority.selfSigned();
    const forged = await issueIdentity(foreign, { spiffeId: PRODUCTPAGE });
    success(await request(s.port, { ca: [...reviews.rootsPem], checkServerIdentity: () => undefined }));
    success(await request(s.port, { ...clientTlsOptions(forged, { allowedIds: [] }), ca: [...reviews.rootsPem] }));
    success(await request(s.port, clientTlsOptions(productpage, { allowedIds: [REVIEWS] })));
    expect(s.peers).toEqual([undefined, undefined, PRODUCTPAGE]);
  });
});

describe('root rotation', () => {
  it('a bundle with two roots accepts certificates from either', async () => {
    const oldCa = await CertificateAuthority.selfSigned();
    // Same subject (O=cluster.local), new key: OpenSSL tells them apart by the key identifiers.
    const newCa = await CertificateAuthority.selfSigned({ extraRoots: oldCa.rootsPem });
    expect(newCa.rootsPem).toHaveLength(2);
    const server = await issueIdentity(newCa, { spiffeId: REVIEWS });
    const s = await startServer(serverTlsOptions(server));
    const fromOld = await issueIdentity(oldCa, { spiffeId: PRODUCTPAGE });
    const fromNew = await issueIdentity(newCa, { spiffeId: PRODUCTPAGE });
    // A client still on the old root only, told about the new root through the bundle.
    const oldClient = { ...clientTlsOptions(fromOld, { allowedIds: [REVIEWS] }), ca: [...newCa.rootsPem] };
    expect(success(await request(s.port, oldClient)).body).toBe(PRODUCTPAGE);
    expect(success(await request(s.port, clientTlsOptions(fromNew, { allowedIds: [REVIEWS] }))).body).toBe(PRODUCTPAGE);
    // And an old server is still accepted by a client holding the bundle.
    const oldServer = await startServer({ ...serverTlsOptions(await issueIdentity(oldCa, { spiffeId: REVIEWS })), ca: [...newCa.rootsPem] });
    expect(success(await request(oldServer.port, clientTlsOptions(fromNew, { allowedIds: [REVIEWS] }))).serverId).toBe(REVIEWS);

    // Rotation done: the old root leaves the bundle, and its certificates stop working.
    newCa.setTrustBundle(newCa.trustBundle.remove(oldCa.rootCertPem));
    const after = await issueIdentity(newCa, { spiffeId: REVIEWS });
    expect(after.rootsPem).toEqual([newCa.rootCertPem]);
    const s2 = await startServer(serverTlsOptions(after));
    failure(await request(s2.port, { ...clientTlsOptions(fromOld, { allowedIds: [REVIEWS] }), ca: [...after.rootsPem] }));
    expect(UNTRUSTED).toContain(s2.clientErrors[0]?.authorizationError);
    expect(new TrustBundle(after.rootsPem).has(oldCa.rootCertPem)).toBe(false);
  });
});

describe('certificate rotation', () => {
  it('keeps a PERMISSIVE server permissive across rotations (requestCert and rejectUnauthorized are not part of the secure context)', async () => {
    const source = await createCaIdentitySource({ signer: ca, spiffeId: REVIEWS });
    const s = await startServer(serverTlsOptions(source.current(), { rejectUnauthorized: false }));
    const binding = bindServerIdentity(s.server, source);
    const before = certificateInfo(source.current().certChainPem).serialNumber;
    await source.rotateNow();
    const anonymous = success(await request(s.port, { ca: [...reviews.rootsPem], checkServerIdentity: () => undefined }));
    expect(anonymous.serial).not.toBe(before);
    expect(anonymous.serial).toBe(certificateInfo(source.current().certChainPem).serialNumber);
    expect(success(await request(s.port, clientTlsOptions(productpage, { allowedIds: [REVIEWS] }))).body).toBe(PRODUCTPAGE);
    expect(s.peers).toEqual([undefined, PRODUCTPAGE]);
    binding.dispose();
    await source.close();
  });

  it('a server rotating its certificate with setSecureContext fails no request, on kept-alive or new connections', async () => {
    const serverSource = await createCaIdentitySource({ signer: ca, spiffeId: REVIEWS });
    const clientSource = await createCaIdentitySource({ signer: ca, spiffeId: PRODUCTPAGE });
    const s = await startServer(serverTlsOptions(serverSource.current()));
    const binding = bindServerIdentity(s.server, serverSource);

    const failures: string[] = [];
    const serials = new Set<string>();
    const keptSockets = new Set<TLSSocket>();
    let kept = 0;
    let fresh = 0;
    let stop = false;
    let progress: () => void = () => {};
    // The kept-alive connection's TLS options belong to its agent: Node 24 does not keep alive a
    // connection whose checkServerIdentity came with the request rather than the agent.
    const keepAlive = new https.Agent({ keepAlive: true, maxSockets: 1, ...clientTlsOptions(clientSource.current(), { allowedIds: [REVIEWS] }) });
    const loop = async (agent: https.Agent | false): Promise<void> => {
      while (!stop) {
        // New connections take the client's current certificate, which rotates too.
        const out = await request(s.port, agent ? {} : clientTlsOptions(clientSource.current(), { allowedIds: [REVIEWS] }), agent);
        if (!out.ok) failures.push(out.error.message);
        else {
          if (out.body !== PRODUCTPAGE || out.serverId !== REVIEWS || out.alpn !== 'istio-peer-exchange') failures.push(`unexpected ${out.body} ${String(out.serverId)} ${String(out.alpn)}`);
          if (agent) { kept++; keptSockets.add(out.socket); } else { fresh++; serials.add(out.serial!); }
        }
        progress();
      }
    };
    const until = (cond: () => boolean): Promise<void> => new Promise((resolve) => {
      const check = (): void => { if (cond()) { progress = () => {}; resolve(); } };
      progress = check;
      check();
    });
    const loops = [loop(keepAlive), loop(false), loop(false)];
    const rotations = 4;
    for (let i = 0; i < rotations; i++) {
      const [k, f] = [kept, fresh];
      // Rotate while requests are in flight, once both kinds of request made progress on this certificate.
      await until(() => (kept >= k + 3 && fresh >= f + 3) || failures.length > 0);
      if (failures.length > 0) break;
      await serverSource.rotateNow();
      if (i === 1) await clientSource.rotateNow();
    }
    const last = certificateInfo(serverSource.current().certChainPem).serialNumber;
    await until(() => serials.has(last) || failures.length > 0);
    stop = true;
    await Promise.all(loops);
    binding.dispose();
    keepAlive.destroy();
    await serverSource.close();
    await clientSource.close();

    expect(failures).toEqual([]);
    // New connections picked up every new certificate ...
    expect(serials.size).toBe(rotations + 1);
    // ... while the kept-alive connection carried on through all rotations.
    expect(keptSockets.size).toBe(1);
    expect(kept).toBeGreaterThanOrEqual(rotations * 3);
  });
});
