/** HTTPS: the serving certificate from the control CA, trusted through the bundle, renewed before it expires. Real https on 127.0.0.1. */
import { X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server as HttpsServer } from 'node:https';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CertificateAuthority } from '@meshwork/identity';
import { controlTlsOptions, openControlCa } from '../src/index.js';
import { httpsCall, startControl, tempDir, workloadCsr, type HttpsOutcome } from './support.js';

function ok(o: HttpsOutcome): Extract<HttpsOutcome, { ok: true }> {
  if (!o.ok) throw new Error(`expected the request to succeed, it failed: ${o.error.message}`);
  return o;
}

function failed(o: HttpsOutcome): Error & { code?: string } {
  if (o.ok) throw new Error(`expected the request to fail, it got ${o.status} ${o.text}`);
  return o.error;
}

describe('HTTPS', () => {
  it('serves the API over TLS: a client trusting the bundle connects (by IP and as localhost); one that does not, fails', async () => {
    const { ca, trustBundle, rootCertPath } = await openControlCa({ dataDir: tempDir() });
    const tls = await controlTlsOptions(ca, { hosts: ['control.internal'] });
    const r = await startControl({ ca, tls });
    expect(r.base).toMatch(/^https:/);
    const res = ok(await httpsCall(r.port, '/v1/trust-bundle', { ca: trustBundle() }));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ trustBundle: trustBundle() });
    expect(ok(await httpsCall(r.port, '/v1/trust-bundle', { ca: trustBundle(), servername: 'localhost' })).status).toBe(200);
    expect(ok(await httpsCall(r.port, '/v1/trust-bundle', { ca: trustBundle(), servername: 'control.internal' })).status).toBe(200);
    // The root on disk is what a CLI on this machine trusts.
    expect(ok(await httpsCall(r.port, '/v1/trust-bundle', { ca: readFileSync(rootCertPath, 'utf8') })).status).toBe(200);
    // The same API, the same errors.
    expect(ok(await httpsCall(r.port, '/v1/trust-bundle', { ca: trustBundle() }, { token: null })).status).toBe(401);
    const { csr } = await workloadCsr('spiffe://cluster.local/ns/shop/sa/reviews');
    const signed = ok(await httpsCall(r.port, '/v1/certificates:sign', { ca: trustBundle() }, { method: 'POST', body: JSON.stringify({ csr }) }));
    expect(signed.status).toBe(200);

    const stranger = await CertificateAuthority.selfSigned();
    expect(failed(await httpsCall(r.port, '/v1/trust-bundle', { ca: [...stranger.rootsPem] })).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    // Node's default CAs do not include the control CA.
    expect(failed(await httpsCall(r.port, '/v1/trust-bundle', {})).code).toBe('UNABLE_TO_VERIFY_LEAF_SIGNATURE');
    expect(failed(await httpsCall(r.port, '/v1/trust-bundle', { ca: trustBundle(), servername: 'elsewhere.example' })).code).toBe('ERR_TLS_CERT_ALTNAME_INVALID');
  });

  it('issues the serving certificate for localhost, 127.0.0.1, ::1 and the extra hosts, serverAuth, from the control CA', async () => {
    const ca = await CertificateAuthority.selfSigned();
    const tls = await controlTlsOptions(ca, { hosts: ['control.internal', '10.1.2.3'] });
    const leaf = new X509Certificate(tls.cert);
    expect(leaf.subjectAltName).toBe('DNS:localhost, DNS:control.internal, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, IP Address:10.1.2.3');
    expect(leaf.verify(new X509Certificate(ca.rootCertPem).publicKey)).toBe(true);
    expect(Math.abs(+tls.notAfter! - (Date.now() + 24 * 3_600_000))).toBeLessThan(60_000);
    // The key never prints.
    expect(tls.key).toMatch(/PRIVATE KEY/);
    expect(inspect(tls)).not.toContain('PRIVATE KEY');
    expect(JSON.stringify(tls)).not.toContain('PRIVATE KEY');
    await expect(controlTlsOptions(ca, { hosts: ['not a host'] })).rejects.toMatchObject({ reason: 'invalid_option' });
  });

  it('renews the serving certificate at half of its life, without a restart (setSecureContext)', async () => {
    const ca = await CertificateAuthority.selfSigned();
    const tls = await controlTlsOptions(ca, { ttlMs: 2_400 });
    const r = await startControl({ ca, tls, now: Date.now });
    const first = ok(await httpsCall(r.port, '/v1/trust-bundle', { ca: [...ca.rootsPem] }));
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const second = ok(await httpsCall(r.port, '/v1/trust-bundle', { ca: [...ca.rootsPem] }));
    expect(second.status).toBe(200);
    expect(second.serial).not.toBe(first.serial);
    expect(first.serial).toBe(new X509Certificate(tls.cert).serialNumber);
  });

  it('reports a failed renewal as tlsRenewalError on the server and keeps serving the current certificate', async () => {
    const ca = await CertificateAuthority.selfSigned();
    // A certificate valid for an hour, and a server clock that believes only 2 s of it remain:
    // the renewal is due within seconds while the certificate stays valid for the real client,
    // however slow the machine.
    const good = await controlTlsOptions(ca, { ttlMs: 3_600_000 });
    const tls = { key: good.key, cert: good.cert, notAfter: good.notAfter, renew: () => Promise.reject(new Error('the CA is away')) };
    const r = await startControl({ ca, tls, now: () => +good.notAfter - 2_000 });
    const error = await new Promise<Error>((resolve) => (r.server as HttpsServer).once('tlsRenewalError', resolve));
    expect(error.message).toBe('the CA is away');
    expect(ok(await httpsCall(r.port, '/v1/trust-bundle', { ca: [...ca.rootsPem] })).status).toBe(200);
  });

  it('refuses tls options without key and cert', async () => {
    await expect(startControl({ tls: { key: 'x' } as never })).rejects.toThrow(/options\.tls must be \{ key, cert \}/);
  });
});
