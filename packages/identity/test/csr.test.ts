/**
 * The CSRs createCsr encodes itself (csr-der.ts), checked by two independent readers: the
 * @peculiar/x509 parser with WebCrypto (verifyCsr, what the CA runs) and OpenSSL
 * (`openssl req -verify`, when the machine has it).
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCsr, generateWorkloadKey, verifyCsr } from '../src/index.js';

const ID = 'spiffe://cluster.local/ns/shop/sa/reviews-v1';
const openssl = ['/usr/bin/openssl', '/usr/local/bin/openssl'].find((p) => existsSync(p));

describe('createCsr (DER encoded by the package)', () => {
  const keys = {
    'ECDSA P-256': () => generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey,
    'ECDSA P-384': () => generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey,
    'RSA 2048': () => generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey,
  };
  for (const [name, make] of Object.entries(keys)) {
    it(`${name}: the self-signature verifies and the request asks for the SPIFFE ID as its only name`, async () => {
      const key = make();
      const pem = await createCsr(key, ID);
      expect(pem).toMatch(/^-----BEGIN CERTIFICATE REQUEST-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END CERTIFICATE REQUEST-----\n$/);
      const v = await verifyCsr(pem);
      expect(v.requestedUris).toEqual([ID]);
      expect(v.requestedOtherNames).toEqual([]);
      expect(v.subject).toBe('');
      expect(v.publicKey.export({ type: 'spki', format: 'der' })).toEqual(createPublicKey(key).export({ type: 'spki', format: 'der' }));
      if (openssl) {
        const text = execFileSync(openssl, ['req', '-verify', '-noout', '-text'], { input: pem, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
        expect(text).toContain(`URI:${ID}`);
        expect(text).toMatch(/X509v3 Subject Alternative Name: critical/);
      }
    });
  }

  it('a CSR tampered with after signing fails verification', async () => {
    const pem = await createCsr((await generateWorkloadKey()).privateKey, ID);
    const der = Buffer.from(pem.replace(/-----[^-]+-----|\n/g, ''), 'base64');
    const i = der.indexOf(Buffer.from(ID, 'ascii'));
    der[i + ID.length - 1] ^= 1; // the last letter of the ID
    const tampered = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString('base64')}\n-----END CERTIFICATE REQUEST-----\n`;
    await expect(verifyCsr(tampered)).rejects.toThrow();
  });
});
