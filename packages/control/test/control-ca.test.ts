/** openControlCa: a self-made root kept in the data directory, or a plug-in cacerts folder read as is; the trust bundle on disk. */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CertificateAuthority, issueIdentity, verifyChain, writeCaCerts } from '@meshwork/identity';
import { openControlCa } from '../src/index.js';
import { tempDir } from './support.js';

const mode = (path: string): number => statSync(path).mode & 0o777;
const REVIEWS = 'spiffe://example.org/ns/shop/sa/reviews';

describe('openControlCa', () => {
  it('makes a self-signed root in <dataDir>/ca on the first start (dir 0700, key 0600) and reuses it later', async () => {
    const dataDir = join(tempDir(), 'data');
    const first = await openControlCa({ dataDir, trustDomain: 'example.org' });
    const dir = join(dataDir, 'ca');
    expect(first.mode).toBe('self-signed');
    expect(first.rootCertPath).toBe(join(dir, 'root-cert.pem'));
    expect(readdirSync(dir).sort()).toEqual(['ca-cert.pem', 'ca-key.pem', 'root-cert.pem']);
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, 'ca-key.pem'))).toBe(0o600);
    expect(mode(join(dir, 'root-cert.pem'))).toBe(0o644);
    expect(readFileSync(first.rootCertPath, 'utf8')).toBe(first.ca.rootCertPem);
    expect(first.trustBundle()).toEqual([first.ca.rootCertPem]);
    expect(first.ca.trustDomain).toBe('example.org');

    const again = await openControlCa({ dataDir, trustDomain: 'example.org' });
    expect(again.ca.rootCertPem).toBe(first.ca.rootCertPem);
    const m = await issueIdentity(again.ca, { spiffeId: REVIEWS });
    expect(verifyChain(m.certChainPem, [readFileSync(first.rootCertPath, 'utf8')]).spiffeId).toBe(REVIEWS);
  });

  it('uses a plug-in cacerts folder read-only and publishes its roots as <dataDir>/ca/root-cert.pem', async () => {
    const root = await CertificateAuthority.selfSigned({ trustDomain: 'example.org' });
    const cacerts = tempDir();
    await writeCaCerts(cacerts, await root.signIntermediate());
    const before = Object.fromEntries(readdirSync(cacerts).map((f) => [f, [readFileSync(join(cacerts, f), 'utf8'), statSync(join(cacerts, f)).mtimeMs]]));
    const dataDir = tempDir();
    const c = await openControlCa({ dataDir, caCertsDir: cacerts, trustDomain: 'example.org' });
    expect(c.mode).toBe('plug-in');
    expect(c.trustBundle()).toEqual([root.rootCertPem]);
    expect(readFileSync(c.rootCertPath, 'utf8')).toBe(root.rootCertPem);
    expect(mode(c.rootCertPath)).toBe(0o644);
    // Nothing secret is copied into the data directory, and the cacerts folder is untouched.
    expect(readdirSync(join(dataDir, 'ca'))).toEqual(['root-cert.pem']);
    expect(Object.fromEntries(readdirSync(cacerts).map((f) => [f, [readFileSync(join(cacerts, f), 'utf8'), statSync(join(cacerts, f)).mtimeMs]]))).toEqual(before);
    const m = await issueIdentity(c.ca, { spiffeId: REVIEWS });
    expect(verifyChain(m.certChainPem, c.trustBundle()).spiffeId).toBe(REVIEWS);
  });

  it('moving from the self-signed root to a plug-in CA keeps the old root trusted while workloads rotate', async () => {
    const dataDir = tempDir();
    const self = await openControlCa({ dataDir });
    const oldCert = await issueIdentity(self.ca, { spiffeId: 'spiffe://cluster.local/ns/shop/sa/reviews' });
    const root = await CertificateAuthority.selfSigned();
    const cacerts = tempDir();
    await writeCaCerts(cacerts, await root.signIntermediate());
    const plugged = await openControlCa({ dataDir, caCertsDir: cacerts });
    expect(plugged.trustBundle()).toEqual([root.rootCertPem, self.ca.rootCertPem]);
    expect(readFileSync(plugged.rootCertPath, 'utf8')).toBe(root.rootCertPem + self.ca.rootCertPem);
    expect(verifyChain(oldCert.certChainPem, plugged.trustBundle()).spiffeId).toBe('spiffe://cluster.local/ns/shop/sa/reviews');
    // And the old key is never read into the published bundle.
    expect(readFileSync(plugged.rootCertPath, 'utf8')).not.toContain('PRIVATE KEY');
  });

  it('reports a broken cacerts folder with the file and the fix', async () => {
    const cacerts = tempDir();
    await expect(openControlCa({ dataDir: tempDir(), caCertsDir: cacerts })).rejects.toMatchObject({ reason: 'invalid_ca_files', file: join(cacerts, 'ca-cert.pem') });
    expect(existsSync(join(cacerts, 'ca-key.pem'))).toBe(false);
  });

  it('needs a real data directory', async () => {
    await expect(openControlCa({ dataDir: ':memory:' })).rejects.toThrow(/dataDir must be a directory/);
    await expect(openControlCa({ dataDir: '' })).rejects.toThrow(TypeError);
  });
});
