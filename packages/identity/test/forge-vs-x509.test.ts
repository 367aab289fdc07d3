/**
 * The test that decided the X.509 library (README: "node-forge or @peculiar/x509").
 *
 * Mesh workload keys are ECDSA P-256 by default. node-forge 1.x implements RSA (and Ed25519)
 * only: it cannot read an EC key, a certificate or a CSR that carries one, has no ECDSA
 * signature algorithm, and so can neither issue nor read the certificates this package makes.
 * @peculiar/x509 does all of it on node:crypto's WebCrypto (OpenSSL), for RSA as well, so it
 * does every X.509 write and forge is left out of the runtime code. Reading certificates needs
 * neither: node:crypto's X509Certificate parses every key type.
 */
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import forge from 'node-forge';
import { describe, expect, it } from 'vitest';
import { CertificateAuthority, createCsr, issueIdentity, verifyCsr } from '../src/index.js';

const ID = 'spiffe://cluster.local/ns/default/sa/reviews';
const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });

describe('node-forge 1.x with an ECDSA P-256 key', () => {
  it('cannot read the private key (PKCS#8 or SEC1)', () => {
    expect(() => forge.pki.privateKeyFromPem(ec.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string)).toThrow(/RSAPrivateKey/);
    expect(() => forge.pki.privateKeyFromPem(ec.privateKey.export({ type: 'sec1', format: 'pem' }) as string)).toThrow(/PEM header type/);
  });

  it('cannot read the public key', () => {
    expect(() => forge.pki.publicKeyFromPem(ec.publicKey.export({ type: 'spki', format: 'pem' }) as string)).toThrow(/Unknown OID/);
  });

  it('knows no ECDSA algorithm (no ecPublicKey, no ecdsa-with-SHA256 OID), so it cannot sign with one', () => {
    const oids = forge.pki.oids as Record<string, string>;
    expect(oids['1.2.840.10045.2.1']).toBeUndefined(); // id-ecPublicKey
    expect(oids['1.2.840.10045.4.3.2']).toBeUndefined(); // ecdsa-with-SHA256
    expect(oids['ecdsa-with-SHA256']).toBeUndefined();
    expect(Object.keys(forge.pki)).not.toContain('ecdsa');
  });

  it('cannot parse a CSR or a certificate with an EC key (what this package issues)', async () => {
    const csr = await createCsr(ec.privateKey, ID);
    expect(() => forge.pki.certificationRequestFromPem(csr)).toThrow(/OID is not RSA/);
    const ca = await CertificateAuthority.selfSigned();
    const m = await issueIdentity(ca, { spiffeId: ID });
    expect(() => forge.pki.certificateFromPem(m.certChainPem)).toThrow(/OID is not RSA/);
    expect(() => forge.pki.certificateFromPem(ca.rootCertPem)).toThrow(/OID is not RSA/);
  });
});

describe('@peculiar/x509 on node:crypto', () => {
  it('makes and verifies an ECDSA P-256 CSR, and OpenSSL accepts the certificate issued from it', async () => {
    const csr = await createCsr(ec.privateKey, ID);
    const verified = await verifyCsr(csr);
    expect(verified.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(verified.requestedUris).toEqual([ID]);
    const ca = await CertificateAuthority.selfSigned();
    const cert = await ca.sign(csr, { spiffeId: ID });
    const leaf = new X509Certificate(cert.certPem);
    expect(leaf.verify(new X509Certificate(ca.rootCertPem).publicKey)).toBe(true);
    expect(leaf.checkPrivateKey(ec.privateKey)).toBe(true);
    expect(leaf.subjectAltName).toBe(`URI:${ID}`);
  });

  it('does the same for RSA 2048, with an RSA root', async () => {
    const ca = await CertificateAuthority.selfSigned({ keyType: 'rsa-2048' });
    const cert = await ca.sign(await createCsr(rsa.privateKey, ID), { spiffeId: ID });
    const leaf = new X509Certificate(cert.certPem);
    expect(leaf.publicKey.asymmetricKeyType).toBe('rsa');
    expect(leaf.verify(new X509Certificate(ca.rootCertPem).publicKey)).toBe(true);
  });

  it('leaves no Reflect metadata polyfill behind (it is installed only while the library loads)', async () => {
    // Loaded by the tests above already; tsyringe checks Reflect.getMetadata only at load time.
    await createCsr(ec.privateKey, ID);
    expect((Reflect as unknown as Record<string, unknown>).getMetadata).toBeUndefined();
    expect((Reflect as unknown as Record<string, unknown>).defineMetadata).toBeUndefined();
  });
});

describe('where forge would still work', () => {
  it('reads an RSA certificate issued here: forge is fine for RSA, but one library for both key types is simpler', async () => {
    const ca = await CertificateAuthority.selfSigned({ keyType: 'rsa-2048' });
    const cert = await ca.sign(await createCsr(rsa.privateKey, ID), { spiffeId: ID });
    const parsed = forge.pki.certificateFromPem(cert.certPem);
    const san = parsed.getExtension('subjectAltName') as { altNames: { type: number; value: string }[] };
    expect(san.altNames).toEqual([expect.objectContaining({ type: 6, value: ID })]);
  });
});
