/**
 * No private key or token in any log line or error message of the control service (the
 * control-side companion of test/security/no-secrets.test.ts at the root, which cannot import
 * this package). Runs the failure paths that produce messages — unknown, expired and revoked
 * tokens, a token pasted where its hash belongs, CSRs for other identities or with a bad
 * signature, bodies too large, rate limits, TLS clients that do not trust the server, a failed
 * certificate renewal — and greps everything written: stdout, stderr, process warnings,
 * response bodies and headers, error messages, and `util.inspect`/`JSON.stringify` of the CA
 * and TLS objects.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CertificateAuthority } from '@meshwork/identity';
import { controlTlsOptions, hashToken, openControlCa, type ControlCa, type ControlTlsOptions } from '../src/index.js';
import { ADMIN, httpsCall, startControl, tamper, tempDir, workloadCsr } from './support.js';

const captured: string[] = [];
let restore: (() => void) | undefined;

beforeAll(() => {
  const out = process.stdout.write.bind(process.stdout);
  const err = process.stderr.write.bind(process.stderr);
  const tap = (write: typeof process.stdout.write) => ((chunk: unknown, ...rest: unknown[]) => {
    captured.push(String(chunk));
    return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
  }) as typeof process.stdout.write;
  process.stdout.write = tap(out);
  process.stderr.write = tap(err);
  const onWarning = (w: Error) => captured.push(`warning ${w.name} ${w.message}`);
  process.on('warning', onWarning);
  restore = () => {
    process.stdout.write = out;
    process.stderr.write = err;
    process.off('warning', onWarning);
  };
});

afterAll(() => restore?.());

/** PEM key markers and 32-character pieces of every key body. */
function keySecrets(pems: string[]): string[] {
  const out = ['PRIVATE KEY'];
  for (const pem of pems) {
    const body = pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
    for (let i = 0; i + 32 <= body.length; i += 32) out.push(body.slice(i, i + 32));
  }
  return out;
}

describe('no private key or token in the control service\'s messages', () => {
  it('the failure paths write nothing secret', async () => {
    const dataDir = tempDir();
    const control: ControlCa = await openControlCa({ dataDir });
    const tls: ControlTlsOptions = await controlTlsOptions(control.ca, { ttlMs: 2_000 });
    const failing = { ...tls, renew: () => Promise.reject(new Error('renewal failed')) };
    const r = await startControl({ ca: control.ca, tls: failing, rateLimit: { burst: 6, perSecond: 1 } });
    const renewalError = new Promise<Error>((resolve) => r.server.once('tlsRenewalError', resolve));
    const ca = { ca: control.trustBundle() };
    const texts: string[] = [];
    const record = (o: Awaited<ReturnType<typeof httpsCall>>): void => {
      texts.push(o.ok ? `${o.status} ${o.text}` : `${o.error.message} ${(o.error as { code?: string }).code ?? ''}`);
    };

    const created = await httpsCall(r.port, '/v1/tokens', ca, { method: 'POST', body: JSON.stringify({ namespace: 'shop', serviceAccount: 'reviews', ttlSeconds: 60 }) });
    const joinToken = created.ok ? (created.body.token as string) : '';
    expect(joinToken).toMatch(/^mwj_/);
    const revoked = await httpsCall(r.port, '/v1/tokens', ca, { method: 'POST', body: JSON.stringify({ namespace: 'shop', serviceAccount: 'reviews' }) });
    const gone = revoked.ok ? (revoked.body.token as string) : '';
    record(await httpsCall(r.port, `/v1/tokens/${hashToken(gone)}`, ca, { method: 'DELETE' }));

    const workload = await workloadCsr('spiffe://cluster.local/ns/shop/sa/reviews');
    const other = await workloadCsr('spiffe://cluster.local/ns/other/sa/admin');
    const sign = (token: string | null, body: unknown) => httpsCall(r.port, '/v1/certificates:sign', ca, { method: 'POST', token, body: JSON.stringify(body) });
    record(await sign(null, { csr: workload.csr }));
    record(await sign('mwj_' + 'A'.repeat(43), { csr: workload.csr }));
    record(await sign(ADMIN.slice(0, -1), { csr: workload.csr }));
    record(await sign(gone, { csr: workload.csr }));
    record(await sign(joinToken, { csr: other.csr }));
    record(await sign(joinToken, { csr: tamper(workload.csr) }));
    record(await sign(joinToken, { csr: workload.keyPem })); // a key pasted where the CSR belongs
    record(await sign(joinToken, { csr: workload.csr, ttlSeconds: 'x' }));
    record(await sign(joinToken, { csr: 'x'.repeat(70_000) }));
    for (let i = 0; i < 3; i++) record(await sign(joinToken, { csr: workload.csr }));
    record(await httpsCall(r.port, `/v1/tokens/${encodeURIComponent(joinToken)}`, ca, { method: 'DELETE' }));
    record(await httpsCall(r.port, '/v1/resources:apply', ca, { method: 'POST', token: joinToken, body: '{}' }));
    // The same token, expired.
    r.clock.now += 61_000;
    record(await sign(joinToken, { csr: workload.csr }));
    // TLS clients that do not trust the server.
    record(await httpsCall(r.port, '/v1/trust-bundle', { ca: [...(await CertificateAuthority.selfSigned()).rootsPem] }));
    record(await httpsCall(r.port, '/v1/trust-bundle', { ca: control.trustBundle(), servername: 'elsewhere.example' }));
    texts.push((await renewalError).message);
    // What a careless console.log of the objects would print.
    texts.push(inspect(tls), JSON.stringify(tls), inspect(control), inspect(control.ca), JSON.stringify(control.trustBundle()));

    // The scenarios did produce messages.
    expect(texts.filter((t) => t.startsWith('401')).length).toBeGreaterThanOrEqual(5);
    expect(texts.some((t) => t.startsWith('403'))).toBe(true);
    expect(texts.some((t) => t.startsWith('429'))).toBe(true);
    expect(texts.some((t) => t.startsWith('413'))).toBe(true);
    expect(texts.some((t) => t.includes('UNABLE_TO_VERIFY_LEAF_SIGNATURE'))).toBe(true);

    const secrets = [
      ADMIN, joinToken, gone,
      ...keySecrets([readFileSync(join(dataDir, 'ca', 'ca-key.pem'), 'utf8'), tls.key, workload.keyPem, other.keyPem]),
    ];
    const text = [...captured, ...texts].join('\n');
    const leaks = secrets.filter((s) => text.includes(s));
    expect(leaks, 'secret material found in logs or messages').toEqual([]);
  });
});
