/** The CA: self-made root in a folder, plug-in cacerts, what it signs and refuses, trust bundles, chain checks. */
import { execFileSync } from 'node:child_process';
import { X509Certificate, generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  CertificateAuthority, IdentityError, TrustBundle, certificateInfo, createCsr, generateWorkloadKey, issueIdentity,
  splitPem, verifyChain, verifyCsr, writeCaCerts,
} from '../src/index.js';
import { x509Lib } from '../src/x509-lib.js';
import { request, startServer, success, failure, tempDir } from './support.js';
import { inspect } from 'node:util';

const REVIEWS = 'spiffe://cluster.local/ns/default/sa/reviews';
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

async function rejects(p: Promise<unknown>): Promise<IdentityError> {
  try { await p; } catch (e) { if (e instanceof IdentityError) return e; throw e; }
  throw new Error('expected an IdentityError');
}

const mode = (path: string): number => statSync(path).mode & 0o777;

describe('self-signed CA in a folder', () => {
  it('makes the root on first use (key 0600, certificates 0644, folder 0700) and reloads it next time', async () => {
    const dir = join(tempDir(), 'ca');
    const first = await CertificateAuthority.selfSigned({ dir });
    expect(mode(join(dir, 'ca-key.pem'))).toBe(0o600);
    expect(mode(join(dir, 'ca-cert.pem'))).toBe(0o644);
    expect(mode(join(dir, 'root-cert.pem'))).toBe(0o644);
    expect(mode(dir)).toBe(0o700);
    expect(existsSync(join(dir, 'cert-chain.pem'))).toBe(false);
    expect(readFileSync(join(dir, 'ca-key.pem'), 'utf8')).toMatch(/^-----BEGIN PRIVATE KEY-----/);

    const again = await CertificateAuthority.selfSigned({ dir });
    expect(again.rootCertPem).toBe(first.rootCertPem);
    // What the reloaded CA signs chains to the root made the first time.
    const m = await issueIdentity(again, { spiffeId: REVIEWS });
    expect(verifyChain(m.certChainPem, first.rootsPem).spiffeId).toBe(REVIEWS);
  });

  it('makes one root when started twice at once', async () => {
    const dir = join(tempDir(), 'ca');
    const [a, b] = await Promise.all([CertificateAuthority.selfSigned({ dir }), CertificateAuthority.selfSigned({ dir })]);
    expect(a.rootCertPem).toBe(b.rootCertPem);
    expect(readFileSync(join(dir, 'ca-cert.pem'), 'utf8')).toBe(a.rootCertPem);
  });

  it('has a 10-year root naming the trust domain, CA:TRUE, keyCertSign', async () => {
    const ca = await CertificateAuthority.selfSigned({ trustDomain: 'example@corp' });
    const root = new X509Certificate(ca.rootCertPem);
    expect(root.ca).toBe(true);
    expect(root.subject).toBe('O=example.corp');
    expect(root.issuer).toBe(root.subject);
    const life = Date.parse(root.validTo) - Date.parse(root.validFrom);
    expect(life).toBe(3650 * DAY + 2 * MINUTE);
    const x509 = await x509Lib();
    const usage = new x509.X509Certificate(root.raw).getExtension(x509.KeyUsagesExtension)!;
    expect(usage.critical).toBe(true);
    expect(usage.usages & x509.KeyUsageFlags.keyCertSign).toBeTruthy();
    expect(ca.trustDomain).toBe('example.corp');
  });

  it('refuses a folder with a key but no certificate, saying how to recover', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'ca-key.pem'), generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const e = await rejects(CertificateAuthority.selfSigned({ dir }));
    expect(e.reason).toBe('invalid_ca_files');
    expect(e.file).toBe(join(dir, 'ca-key.pem'));
    expect(e.message).toContain('ca-cert.pem does not');
    expect(e.message).toContain('delete the folder');
    expect(e.message).not.toContain('PRIVATE KEY');
  });
});

describe('signing', () => {
  it('issues what the caller decides, not what the CSR asks for', async () => {
    const ca = await CertificateAuthority.selfSigned();
    const x509 = await x509Lib();
    const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
    const keys = await crypto.subtle.generateKey(alg, true, ['sign', 'verify']);
    const csr = await x509.Pkcs10CertificateRequestGenerator.create({
      name: 'CN=admin, O=evil',
      keys,
      signingAlgorithm: alg,
      extensions: [new x509.SubjectAlternativeNameExtension([
        { type: 'url', value: 'spiffe://cluster.local/ns/istio-system/sa/admin' }, { type: 'dns', value: 'evil.example' },
      ])],
    });
    const asked = await verifyCsr(csr.toString('pem'));
    expect(asked.subject).toBe('CN=admin, O=evil');
    expect(asked.requestedUris).toEqual(['spiffe://cluster.local/ns/istio-system/sa/admin']);
    expect(asked.requestedOtherNames).toEqual(['DNS:evil.example']);

    const cert = await ca.sign(csr.toString('pem'), { spiffeId: REVIEWS });
    const leaf = new X509Certificate(cert.certPem);
    expect(leaf.subjectAltName).toBe(`URI:${REVIEWS}`); // the only SAN
    expect(leaf.subject).toBeUndefined(); // empty subject, as Istio issues
    expect(cert.spiffeId).toBe(REVIEWS);
  });

  it('sets Istio\'s extensions: critical SAN, CA:FALSE, digitalSignature + keyEncipherment, serverAuth + clientAuth, AKI = root SKI, SKI', async () => {
    const ca = await CertificateAuthority.selfSigned();
    const cert = await ca.sign(await createCsr((await generateWorkloadKey()).privateKey, REVIEWS), { spiffeId: REVIEWS });
    const x509 = await x509Lib();
    const leaf = new x509.X509Certificate(cert.certPem);
    const root = new x509.X509Certificate(ca.rootCertPem);
    expect(leaf.getExtension(x509.SubjectAlternativeNameExtension)!.critical).toBe(true);
    const bc = leaf.getExtension(x509.BasicConstraintsExtension)!;
    expect([bc.ca, bc.critical]).toEqual([false, true]);
    const ku = leaf.getExtension(x509.KeyUsagesExtension)!;
    expect(ku.usages).toBe(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment);
    expect(leaf.getExtension(x509.ExtendedKeyUsageExtension)!.usages).toEqual([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]);
    expect(leaf.getExtension(x509.AuthorityKeyIdentifierExtension)!.keyId).toBe(root.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId);
    expect(leaf.getExtension(x509.SubjectKeyIdentifierExtension)!.keyId).toMatch(/^[0-9a-f]{40}$/);
  });

  it('lives 24 h by default, from 2 minutes in the past (clock skew); a requested TTL is honoured and capped at 90 days', async () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    const ca = await CertificateAuthority.selfSigned({ now: () => now });
    const csr = await createCsr((await generateWorkloadKey()).privateKey, REVIEWS);
    const def = await ca.sign(csr, { spiffeId: REVIEWS });
    expect(def.notBefore.toISOString()).toBe('2029-12-31T23:58:00.000Z');
    expect(def.notAfter.toISOString()).toBe('2030-01-02T00:00:00.000Z');
    const hour = await ca.sign(csr, { spiffeId: REVIEWS, ttlMs: HOUR });
    expect(+hour.notAfter - now).toBe(HOUR);
    const long = await ca.sign(csr, { spiffeId: REVIEWS, ttlMs: 200 * DAY });
    expect(+long.notAfter - now).toBe(90 * DAY);
    const capped = await CertificateAuthority.selfSigned({ now: () => now, maxTtlMs: 2 * HOUR });
    expect(+(await capped.sign(csr, { spiffeId: REVIEWS })).notAfter - now).toBe(2 * HOUR);
  });

  it('never outlives the CA certificate', async () => {
    const ca = await CertificateAuthority.selfSigned({ rootTtlMs: HOUR });
    const cert = await ca.sign(await createCsr((await generateWorkloadKey()).privateKey, REVIEWS), { spiffeId: REVIEWS });
    expect(+cert.notAfter).toBe(Date.parse(new X509Certificate(ca.rootCertPem).validTo));
  });

  it('uses a random, positive 128-bit serial', async () => {
    const ca = await CertificateAuthority.selfSigned();
    const csr = await createCsr((await generateWorkloadKey()).privateKey, REVIEWS);
    const serials = await Promise.all(Array.from({ length: 8 }, async () => (await ca.sign(csr, { spiffeId: REVIEWS })).serialNumber));
    expect(new Set(serials).size).toBe(8);
    for (const s of serials) {
      expect(s).toMatch(/^[0-9A-F]{32}$/);
      expect(parseInt(s[0]!, 16)).toBeLessThan(8);
    }
  });

  it('takes explicit notBefore/notAfter (for expired or future certificates in tests)', async () => {
    const ca = await CertificateAuthority.selfSigned();
    const csr = await createCsr((await generateWorkloadKey()).privateKey, REVIEWS);
    const past = await ca.sign(csr, { spiffeId: REVIEWS, notBefore: new Date(Date.now() - 2 * DAY), notAfter: new Date(Date.now() - DAY) });
    expect(() => verifyChain(past.certChainPem, past.rootsPem)).toThrow(/the leaf certificate expired at/);
    expect((() => { try { verifyChain(past.certChainPem, past.rootsPem); } catch (e) { return (e as IdentityError).reason; } })()).toBe('certificate_expired');
    const future = await ca.sign(csr, { spiffeId: REVIEWS, notBefore: new Date(Date.now() + DAY) });
    expect(+future.notAfter - +future.notBefore).toBe(DAY);
    expect(() => verifyChain(future.certChainPem, future.rootsPem)).toThrow(/the leaf certificate is not valid before/);
    expect((await rejects(ca.sign(csr, { spiffeId: REVIEWS, notBefore: new Date(Date.now() + DAY), notAfter: new Date(Date.now()) }))).message).toContain('would end');
  });

  it('refuses a CSR whose signature does not verify, a weak RSA key, garbage, and IDs outside its trust domain', async () => {
    const ca = await CertificateAuthority.selfSigned();
    const csr = await createCsr((await generateWorkloadKey()).privateKey, REVIEWS);
    // Flip one byte inside the signature (the end of the DER).
    const der = Buffer.from(csr.replace(/-----[^-]+-----|\s/g, ''), 'base64');
    der[der.length - 5] = der[der.length - 5]! ^ 0xff;
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    expect((await rejects(ca.sign(tampered, { spiffeId: REVIEWS }))).message).toContain('does not verify');

    const weak = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey;
    const weakCsr = await createCsr(weak, REVIEWS);
    const e = await rejects(ca.sign(weakCsr, { spiffeId: REVIEWS }));
    expect([e.reason, e.message]).toEqual(['invalid_csr', 'CSR: RSA key of 1024 bits is too weak; use at least 2048 bits or ECDSA P-256']);

    expect((await rejects(ca.sign('hello', { spiffeId: REVIEWS }))).reason).toBe('invalid_csr');
    const foreign = await rejects(ca.sign(csr, { spiffeId: 'spiffe://other.example/ns/default/sa/reviews' }));
    expect(foreign.message).toContain('this CA signs identities of trust domain cluster.local');
    expect((await rejects(ca.sign(csr, { spiffeId: 'reviews' }))).reason).toBe('invalid_spiffe_id');
  });

  it('makes RSA 2048 keys on request, ECDSA P-256 by default', async () => {
    const ecKey = await generateWorkloadKey();
    expect([ecKey.keyType, ecKey.privateKey.asymmetricKeyType, ecKey.privateKey.asymmetricKeyDetails?.namedCurve]).toEqual(['ecdsa-p256', 'ec', 'prime256v1']);
    const rsaKey = await generateWorkloadKey('rsa-2048');
    expect([rsaKey.privateKey.asymmetricKeyType, rsaKey.privateKey.asymmetricKeyDetails?.modulusLength]).toEqual(['rsa', 2048]);
    expect(rsaKey.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    await expect(generateWorkloadKey('dsa' as never)).rejects.toThrow(/use 'ecdsa-p256' \(default\) or 'rsa-2048'/);
  });
});

describe('server certificates (host names, not mesh identities)', () => {
  it('makes a key and a certificate for DNS names and IP addresses: CN = first host, serverAuth only, CA:FALSE, chained to the CA', async () => {
    const now = Date.parse('2030-01-01T00:00:00Z');
    const ca = await CertificateAuthority.selfSigned({ now: () => now });
    const c = await ca.issueServerCertificate({ hosts: ['LocalHost', '127.0.0.1', '[::1]', 'control.example.com', 'localhost.', '127.0.0.1'] });
    expect(c.dnsNames).toEqual(['localhost', 'control.example.com']);
    expect(c.ipAddresses).toEqual(['127.0.0.1', '::1']);
    const leaf = new X509Certificate(c.certPem);
    expect(leaf.subjectAltName).toBe('DNS:localhost, DNS:control.example.com, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1');
    expect(leaf.subject).toBe('CN=localhost');
    expect(leaf.ca).toBe(false);
    expect(leaf.checkPrivateKey((await import('node:crypto')).createPrivateKey(c.keyPem))).toBe(true);
    expect(leaf.checkHost('localhost')).toBe('localhost');
    expect(leaf.checkIP('::1')).toBe('::1');
    const x509 = await x509Lib();
    const parsed = new x509.X509Certificate(c.certPem);
    expect(parsed.getExtension(x509.ExtendedKeyUsageExtension)!.usages).toEqual([x509.ExtendedKeyUsage.serverAuth]);
    expect(parsed.getExtension(x509.SubjectAlternativeNameExtension)!.critical).toBe(false);
    expect(verifyChain(c.certChainPem, ca.rootsPem, { at: now }).spiffeId).toBeUndefined();
    // 24 h by default, from 2 minutes in the past; capped like workload certificates.
    expect(+c.notAfter - now).toBe(DAY);
    expect(+c.notBefore).toBe(now - 2 * MINUTE);
    expect(+(await ca.issueServerCertificate({ hosts: ['localhost'], ttlMs: 400 * DAY })).notAfter - now).toBe(90 * DAY);
    // The key prints as [redacted].
    expect(inspect(c)).not.toContain('PRIVATE KEY');
    expect(JSON.stringify(c)).not.toContain('PRIVATE KEY');
    expect(c.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
  });

  it('serves HTTPS that a client trusting the CA accepts by host name, and that a client trusting another root refuses', async () => {
    const ca = await CertificateAuthority.selfSigned();
    const c = await ca.issueServerCertificate({ hosts: ['localhost', '127.0.0.1'] });
    const { port } = await startServer({ key: c.keyPem, cert: c.certChainPem });
    expect(success(await request(port, { ca: [...ca.rootsPem] })).status).toBe(200);
    expect(success(await request(port, { ca: [...ca.rootsPem], servername: 'localhost' })).status).toBe(200);
    expect(failure(await request(port, { ca: [...ca.rootsPem], servername: 'elsewhere.example' })).code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
    const other = await CertificateAuthority.selfSigned();
    expect(failure(await request(port, { ca: [...other.rootsPem] })).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
  });

  it('refuses hosts that are neither DNS names nor IP addresses, and an empty list', async () => {
    const ca = await CertificateAuthority.selfSigned();
    for (const hosts of [[], ['bad host'], ['-x.example'], ['spiffe://cluster.local/ns/a/sa/b'], ['a'.repeat(64) + '.example']]) {
      const e = await rejects(ca.issueServerCertificate({ hosts }));
      expect(e.reason).toBe('invalid_option');
    }
  });
});

describe('plug-in CA (Istio cacerts)', () => {
  it('signs through an intermediate; the chain it returns includes the intermediate', async () => {
    const root = await CertificateAuthority.selfSigned();
    const files = await root.signIntermediate({ commonName: 'cluster-east' });
    const dir = join(tempDir(), 'cacerts');
    await writeCaCerts(dir, files);
    expect(mode(join(dir, 'ca-key.pem'))).toBe(0o600);
    expect(mode(join(dir, 'cert-chain.pem'))).toBe(0o644);

    const ca = await CertificateAuthority.fromCaCerts(dir);
    expect(ca.rootCertPem).toBe(root.rootCertPem);
    const m = await issueIdentity(ca, { spiffeId: REVIEWS });
    const chain = splitPem(m.certChainPem).map((p) => new X509Certificate(p));
    expect(chain.map((c) => c.subject ?? '')).toEqual(['', 'O=cluster.local\nCN=cluster-east', 'O=cluster.local']);
    expect(chain[1]!.toString()).toBe(files.caCertPem);
    expect(m.rootsPem).toEqual([root.rootCertPem]);
    // A peer that trusts only the root accepts it, which needs the intermediate.
    expect(verifyChain(m.certChainPem, [root.rootCertPem]).spiffeId).toBe(REVIEWS);
    expect(() => verifyChain(splitPem(m.certChainPem)[0]!, [root.rootCertPem])).toThrow(/not signed by any trusted root/);
  });

  it('names the file and the fix when the folder is wrong', async () => {
    const root = await CertificateAuthority.selfSigned();
    const files = await root.signIntermediate();
    const dir = tempDir();
    await writeCaCerts(dir, files);

    rmSync(join(dir, 'root-cert.pem'));
    let e = await rejects(CertificateAuthority.fromCaCerts(dir));
    expect([e.reason, e.file]).toEqual(['invalid_ca_files', join(dir, 'root-cert.pem')]);
    expect(e.message).toContain('is missing: a cacerts folder holds ca-cert.pem, ca-key.pem, root-cert.pem');

    writeFileSync(join(dir, 'root-cert.pem'), (await CertificateAuthority.selfSigned()).rootCertPem);
    e = await rejects(CertificateAuthority.fromCaCerts(dir));
    expect(e.file).toBe(join(dir, 'cert-chain.pem'));
    expect(e.message).toContain('must lead to a root in root-cert.pem');

    writeFileSync(join(dir, 'root-cert.pem'), files.rootCertPem);
    writeFileSync(join(dir, 'ca-key.pem'), (await generateWorkloadKey()).keyPem);
    e = await rejects(CertificateAuthority.fromCaCerts(dir));
    expect(e.file).toBe(join(dir, 'ca-key.pem'));
    expect(e.message).toContain('this key does not belong to the certificate in ca-cert.pem');

    writeFileSync(join(dir, 'ca-key.pem'), files.caKeyPem.slice(0, 100));
    e = await rejects(CertificateAuthority.fromCaCerts(dir));
    expect(e.message).toContain('half-written');
    expect(e.message).not.toContain(files.caKeyPem.slice(30, 90));

    // A workload certificate is not a CA.
    const leaf = await issueIdentity(root, { spiffeId: REVIEWS });
    await writeCaCerts(dir, { caCertPem: leaf.certChainPem, caKeyPem: leaf.keyPem, rootCertPem: root.rootCertPem, certChainPem: '' });
    e = await rejects(CertificateAuthority.fromCaCerts(dir));
    expect([e.file, e.message]).toEqual([join(dir, 'ca-cert.pem'), `${join(dir, 'ca-cert.pem')}: not a CA certificate (basicConstraints CA:TRUE is missing): a workload certificate cannot sign others`]);
  });

  it.skipIf(!hasOpenssl())('loads a cacerts folder made with openssl as Istio\'s docs do (RSA root and intermediate)', async () => {
    const dir = tempDir();
    const run = (...args: string[]): void => { execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' }); };
    writeFileSync(join(dir, 'root.conf'), '[req]\ndistinguished_name=dn\nprompt=no\nx509_extensions=v3\n[dn]\nO=Istio\nCN=Root CA\n[v3]\nbasicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\n');
    writeFileSync(join(dir, 'int.ext'), 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,digitalSignature,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
    run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'root-key.pem', '-out', 'root-cert.pem', '-days', '3650', '-config', 'root.conf');
    run('req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.csr', '-subj', '/O=Istio/CN=Intermediate CA/L=cluster1');
    run('x509', '-req', '-in', 'ca.csr', '-CA', 'root-cert.pem', '-CAkey', 'root-key.pem', '-CAcreateserial', '-out', 'ca-cert.pem', '-days', '730', '-extfile', 'int.ext');
    writeFileSync(join(dir, 'cert-chain.pem'), readFileSync(join(dir, 'ca-cert.pem'), 'utf8') + readFileSync(join(dir, 'root-cert.pem'), 'utf8'));
    const ca = await CertificateAuthority.fromCaCerts(dir);
    const m = await issueIdentity(ca, { spiffeId: REVIEWS });
    expect(splitPem(m.certChainPem)).toHaveLength(3);
    expect(verifyChain(m.certChainPem, [readFileSync(join(dir, 'root-cert.pem'), 'utf8')]).spiffeId).toBe(REVIEWS);
    // openssl agrees
    writeFileSync(join(dir, 'leaf.pem'), splitPem(m.certChainPem)[0]!);
    run('verify', '-CAfile', 'root-cert.pem', '-untrusted', 'ca-cert.pem', '-purpose', 'sslserver', 'leaf.pem');
    run('verify', '-CAfile', 'root-cert.pem', '-untrusted', 'ca-cert.pem', '-purpose', 'sslclient', 'leaf.pem');
  });
});

describe('trust bundle', () => {
  it('holds several roots, deduplicated, and refuses non-CA certificates', async () => {
    const a = await CertificateAuthority.selfSigned();
    const b = await CertificateAuthority.selfSigned();
    const bundle = new TrustBundle([a.rootCertPem, b.rootCertPem + a.rootCertPem]);
    expect(bundle.rootsPem).toEqual([a.rootCertPem, b.rootCertPem]);
    expect(bundle.toString()).toBe(a.rootCertPem + b.rootCertPem);
    expect(bundle.remove(a.rootCertPem).rootsPem).toEqual([b.rootCertPem]);
    expect(bundle.add(b.rootCertPem).size).toBe(2);
    expect(bundle.has(b.rootCertPem)).toBe(true);
    const leaf = await issueIdentity(a, { spiffeId: REVIEWS });
    expect(() => new TrustBundle([leaf.certChainPem])).toThrow(/is not a CA certificate/);
  });

  it('keeps the CA\'s own root: a CA cannot drop the root it signs under', async () => {
    const oldCa = await CertificateAuthority.selfSigned();
    const ca = await CertificateAuthority.selfSigned({ extraRoots: oldCa.rootsPem });
    expect(ca.rootsPem).toEqual([ca.rootCertPem, oldCa.rootCertPem]);
    expect(() => ca.setTrustBundle([oldCa.rootCertPem])).toThrow(/must keep this CA's own root/);
    ca.setTrustBundle(ca.trustBundle.remove(oldCa.rootCertPem));
    expect(ca.rootsPem).toEqual([ca.rootCertPem]);
  });
});

describe('verifyChain', () => {
  it('explains what is wrong: untrusted, expired, not yet valid', async () => {
    const ca = await CertificateAuthority.selfSigned();
    const other = await CertificateAuthority.selfSigned({ trustDomain: 'other.example' });
    const m = await issueIdentity(ca, { spiffeId: REVIEWS });
    const e = (() => { try { verifyChain(m.certChainPem, other.rootsPem); } catch (err) { return err as IdentityError; } throw new Error('accepted'); })();
    expect(e.reason).toBe('untrusted_certificate');
    expect(e.message).toBe('certificate chain: the leaf certificate is not signed by any trusted root (its issuer is "O=cluster.local"; the 1 trusted root(s) are "O=other.example")');
    expect(() => verifyChain(m.certChainPem, ca.rootsPem, { at: Date.now() + 2 * DAY })).toThrow(/expired at/);
    expect(() => verifyChain(m.certChainPem, ca.rootsPem, { at: Date.now() - HOUR })).toThrow(/not valid before/);
    expect(verifyChain(m.certChainPem, ca.rootsPem, { at: Date.now() + 2 * DAY, checkValidity: false }).spiffeId).toBe(REVIEWS);
    expect(certificateInfo(m.certChainPem)).toMatchObject({ spiffeId: REVIEWS, uris: [REVIEWS], isCa: false, subject: '', issuer: 'O=cluster.local' });
  });
});

function hasOpenssl(): boolean {
  try { execFileSync('openssl', ['version'], { stdio: 'ignore' }); return true; } catch { return false; }
}

