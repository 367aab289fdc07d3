/**
 * POST /v1/certificates:sign and GET /v1/trust-bundle: who may get which certificate (the
 * auth matrix), what the CSR may ask for, lifetimes, and that what comes back verifies
 * against the trust bundle and carries the SPIFFE ID.
 */
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { beforeEach, describe, expect, it } from 'vitest';
import { CertificateAuthority, verifyChain, writeCaCerts } from '@meshwork/identity';
import { hashToken, MAX_SIGN_BODY_BYTES, openControlCa } from '../src/index.js';
import { ADMIN, call, hasOpenssl, json, opensslCsr, startControl, tamper, tempDir, workloadCsr, type Running } from './support.js';

const REVIEWS = 'spiffe://cluster.local/ns/shop/sa/reviews';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const sign = (r: Running, body: unknown, token?: string | null) => call(r.base, 'POST', '/v1/certificates:sign', { ...json(body), token });

describe('POST /v1/certificates:sign', () => {
  let ca: CertificateAuthority;
  let r: Running;
  let join: string;

  beforeEach(async () => {
    ca = await CertificateAuthority.selfSigned({ trustDomain: 'cluster.local' });
    r = await startControl({ ca });
    const t = await call(r.base, 'POST', '/v1/tokens', json({ namespace: 'shop', serviceAccount: 'reviews' }));
    expect(t.status).toBe(201);
    join = t.body.token;
  });

  it('tells a registering workload the trust domain it will be signed in, so it can ask before its first snapshot', async () => {
    const other = await CertificateAuthority.selfSigned({ trustDomain: 'corp.example' });
    const r2 = await startControl({ ca: other });
    const group = { apiVersion: 'networking.istio.io/v1', kind: 'WorkloadGroup', metadata: { name: 'reviews-vm', namespace: 'shop' }, spec: { template: { serviceAccount: 'reviews' } } };
    expect((await call(r2.base, 'POST', '/v1/resources:apply', json(group))).status).toBe(200);
    const reg = await call(r2.base, 'POST', '/v1/workloads:register', json({ group: 'shop/reviews-vm', address: '10.0.0.7' }));
    expect(reg.status).toBe(200);
    expect(reg.body.trustDomain).toBe('corp.example');
    // Without a CA there is nothing to say.
    const plain = await startControl({});
    expect((await call(plain.base, 'POST', '/v1/resources:apply', json(group))).status).toBe(200);
    const bare = await call(plain.base, 'POST', '/v1/workloads:register', json({ group: 'shop/reviews-vm', address: '10.0.0.7' }));
    expect(bare.status).toBe(200);
    expect(bare.body.trustDomain).toBeUndefined();
  });

  it('signs the join token\'s own identity: the chain verifies against the trust bundle and carries the SPIFFE ID (200)', async () => {
    const { keyPem, csr } = await workloadCsr(REVIEWS);
    const res = await sign(r, { csr }, join);
    expect(res.status).toBe(200);
    expect(Object.keys(res.body).sort()).toEqual(['certChain', 'notAfter', 'trustBundle']);
    expect(res.body.trustBundle).toEqual([...ca.rootsPem]);
    expect(res.body.certChain).toHaveLength(1);
    const info = verifyChain(res.body.certChain.join(''), res.body.trustBundle);
    expect(info.spiffeId).toBe(REVIEWS);
    expect(info.uris).toEqual([REVIEWS]);
    const leaf = new X509Certificate(res.body.certChain[0]);
    expect(leaf.checkPrivateKey(createPrivateKey(keyPem))).toBe(true);
    expect(leaf.subjectAltName).toBe(`URI:${REVIEWS}`);
    // 24 h by default.
    expect(Math.abs(Date.parse(res.body.notAfter) - (Date.now() + DAY))).toBeLessThan(60_000);
    expect(Date.parse(res.body.notAfter)).toBe(Date.parse(leaf.validTo));
    expect(res.text).not.toContain(join);
  });

  it('refuses without a token, with a wrong one, and with an expired join token (401)', async () => {
    const { csr } = await workloadCsr(REVIEWS);
    const none = await sign(r, { csr }, null);
    expect([none.status, none.body.error, none.headers.get('www-authenticate')]).toEqual([401, 'unauthenticated', 'Bearer realm="meshwork"']);
    expect((await sign(r, { csr }, 'mwj_' + 'A'.repeat(43))).status).toBe(401);
    expect((await sign(r, { csr }, ADMIN + 'x')).status).toBe(401);
    r.clock.now += DAY;
    const expired = await sign(r, { csr }, join);
    expect(expired.status).toBe(401);
    expect(expired.body.message).toMatch(/expired/);
    expect(expired.text).not.toContain(join);
  });

  it('refuses a CSR for another namespace or service account (403 naming the allowed identity and the one asked, never the token)', async () => {
    for (const asked of ['spiffe://cluster.local/ns/other/sa/reviews', 'spiffe://cluster.local/ns/shop/sa/ratings', 'spiffe://other.example/ns/shop/sa/reviews']) {
      const res = await sign(r, { csr: (await workloadCsr(asked)).csr }, join);
      expect(res.status, asked).toBe(403);
      expect(res.body).toMatchObject({ error: 'forbidden', allowed: REVIEWS, requested: [`URI:${asked}`], scope: { namespace: 'shop', serviceAccount: 'reviews' } });
      expect(res.body.message).toBe(`a join token scoped to namespace "shop", service account "reviews" may get a certificate only for ${REVIEWS}; the CSR asks for URI:${asked}`);
      expect(res.text).not.toContain(join);
      expect(res.text).not.toContain(hashToken(join));
    }
  });

  it.skipIf(!hasOpenssl())('refuses a CSR that asks for more than its one identity: two URI SANs, or a DNS/IP name besides (403)', async () => {
    for (const san of [`URI:${REVIEWS},URI:spiffe://cluster.local/ns/shop/sa/admin`, `URI:${REVIEWS},DNS:reviews.shop.svc`, `URI:${REVIEWS},IP:10.0.0.1`, 'DNS:reviews.shop.svc']) {
      const res = await sign(r, { csr: await opensslCsr(san) }, join);
      expect(res.status, san).toBe(403);
      expect(res.body.allowed).toBe(REVIEWS);
      expect(res.body.requested.length).toBeGreaterThan(0);
    }
    const two = await sign(r, { csr: await opensslCsr(`URI:${REVIEWS},URI:spiffe://cluster.local/ns/shop/sa/admin`) }, join);
    expect(two.body.requested).toEqual([`URI:${REVIEWS}`, 'URI:spiffe://cluster.local/ns/shop/sa/admin']);
    // A subject is ignored (the certificate's is empty), as Istio's CA does.
    const withSubject = await sign(r, { csr: await opensslCsr(`URI:${REVIEWS}`, '/CN=admin/O=evil') }, join);
    expect(withSubject.status).toBe(200);
    expect(new X509Certificate(withSubject.body.certChain[0]).subject).toBeUndefined();
  });

  it.skipIf(!hasOpenssl())('refuses a CSR that names no identity (400 invalid_csr)', async () => {
    const res = await sign(r, { csr: await opensslCsr(undefined) }, join);
    expect([res.status, res.body.error]).toEqual([400, 'invalid_csr']);
    expect(res.body.message).toContain('names no identity');
  });

  it('refuses a CSR whose signature does not verify, and one that is not a CSR (400 invalid_csr)', async () => {
    const { csr } = await workloadCsr(REVIEWS);
    const bad = await sign(r, { csr: tamper(csr) }, join);
    expect([bad.status, bad.body.error]).toEqual([400, 'invalid_csr']);
    expect(bad.body.message).toContain('does not verify');
    const garbage = await sign(r, { csr: 'hello' }, join);
    expect([garbage.status, garbage.body.error]).toEqual([400, 'invalid_csr']);
  });

  it('takes ttlSeconds, caps it at 90 days, and refuses one that is not a positive integer', async () => {
    const { csr } = await workloadCsr(REVIEWS);
    const hour = await sign(r, { csr, ttlSeconds: 3600 }, join);
    expect(hour.status).toBe(200);
    expect(Math.abs(Date.parse(hour.body.notAfter) - (Date.now() + HOUR))).toBeLessThan(60_000);
    const long = await sign(r, { csr, ttlSeconds: 10 * 365 * 86400 }, join);
    expect(long.status).toBe(200);
    expect(Math.abs(Date.parse(long.body.notAfter) - (Date.now() + 90 * DAY))).toBeLessThan(60_000);
    for (const ttlSeconds of [0, -1, 1.5, '3600']) {
      const res = await sign(r, { csr, ttlSeconds }, join);
      expect([res.status, res.body.error], String(ttlSeconds)).toEqual([400, 'invalid']);
    }
  });

  it('checks the body: JSON object with csr only (400), application/json (415), at most 64 KiB (413)', async () => {
    const { csr } = await workloadCsr(REVIEWS);
    expect((await call(r.base, 'POST', '/v1/certificates:sign', { body: '{', type: 'application/json', token: join })).body.error).toBe('malformed');
    expect((await sign(r, { csr, spiffeId: 'spiffe://cluster.local/ns/istio-system/sa/admin' }, join)).status).toBe(400);
    expect((await sign(r, [csr], join)).status).toBe(400);
    expect((await sign(r, {}, join)).status).toBe(400);
    expect((await call(r.base, 'POST', '/v1/certificates:sign', { body: csr, type: 'application/x-pem-file', token: join })).status).toBe(415);
    const big = await sign(r, { csr: csr + ' '.repeat(MAX_SIGN_BODY_BYTES) }, join);
    expect([big.status, big.body.error]).toEqual([413, 'too_large']);
  });

  it('lets the admin sign any identity of the trust domain, one per certificate', async () => {
    const id = 'spiffe://cluster.local/ns/istio-system/sa/istio-ingressgateway';
    const ok = await sign(r, { csr: (await workloadCsr(id)).csr });
    expect(ok.status).toBe(200);
    expect(verifyChain(ok.body.certChain.join(''), ok.body.trustBundle).spiffeId).toBe(id);
    const foreign = await sign(r, { csr: (await workloadCsr('spiffe://other.example/ns/a/sa/b')).csr });
    expect([foreign.status, foreign.body.error]).toEqual([403, 'forbidden']);
    expect(foreign.body.message).toContain('trust domain cluster.local only');
    if (hasOpenssl()) {
      expect((await sign(r, { csr: await opensslCsr(`URI:${id},URI:${REVIEWS}`) })).body.error).toBe('invalid_csr');
      expect((await sign(r, { csr: await opensslCsr(`URI:${id},DNS:gateway.example`) })).body.error).toBe('invalid_csr');
      expect((await sign(r, { csr: await opensslCsr('URI:https://example.com/not-spiffe') })).body.error).toBe('invalid_csr');
    }
  });

  it('signs through a plug-in intermediate: the chain holds the intermediate and verifies against the root', async () => {
    const root = await CertificateAuthority.selfSigned();
    const cacerts = tempDir();
    await writeCaCerts(cacerts, await root.signIntermediate({ commonName: 'cluster-1' }));
    const control = await openControlCa({ dataDir: tempDir(), caCertsDir: cacerts });
    const r2 = await startControl({ ca: control.ca });
    const res = await sign(r2, { csr: (await workloadCsr(REVIEWS)).csr });
    expect(res.status).toBe(200);
    expect(res.body.certChain).toHaveLength(2);
    expect(res.body.trustBundle).toEqual([root.rootCertPem]);
    expect(verifyChain(res.body.certChain.join(''), [root.rootCertPem]).spiffeId).toBe(REVIEWS);
  });
});

describe('GET /v1/trust-bundle', () => {
  it('answers any valid token with the roots; no token 401', async () => {
    const ca = await CertificateAuthority.selfSigned();
    const r = await startControl({ ca });
    const t = await call(r.base, 'POST', '/v1/tokens', json({ namespace: 'shop', serviceAccount: 'reviews' }));
    for (const token of [ADMIN, t.body.token]) {
      const res = await call(r.base, 'GET', '/v1/trust-bundle', { token });
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ trustBundle: [ca.rootCertPem] });
    }
    expect((await call(r.base, 'GET', '/v1/trust-bundle', { token: null })).status).toBe(401);
    expect((await call(r.base, 'POST', '/v1/trust-bundle')).status).toBe(405);
  });
});

describe('without a CA', () => {
  it('answers both endpoints 501 not_configured', async () => {
    const r = await startControl();
    const { csr } = await workloadCsr(REVIEWS);
    const s = await sign(r, { csr });
    expect([s.status, s.body.error]).toEqual([501, 'not_configured']);
    expect((await call(r.base, 'GET', '/v1/trust-bundle')).status).toBe(501);
  });
});
