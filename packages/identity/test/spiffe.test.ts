/** SPIFFE IDs, principals, trust domain aliases and secure naming as pure functions. */
import { describe, expect, it } from 'vitest';
import {
  IdentityError, expandTrustDomains, formatSpiffeId, fromPrincipal, normalizeTrustDomain, parseSpiffeId, sameIdentity, toPrincipal,
  tryParseSpiffeId, verifySecureNaming,
} from '../src/index.js';
import { uriSans } from '../src/pem.js';

const REVIEWS = 'spiffe://cluster.local/ns/default/sa/reviews';

function errorOf(fn: () => unknown): IdentityError {
  try { fn(); } catch (e) { if (e instanceof IdentityError) return e; throw e; }
  throw new Error('expected an IdentityError');
}

describe('SPIFFE IDs', () => {
  it('formats and parses Istio\'s form', () => {
    expect(formatSpiffeId({ trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'reviews' })).toBe(REVIEWS);
    expect(parseSpiffeId(REVIEWS)).toEqual({ trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'reviews' });
  });

  it('writes "@" in a trust domain as "." as Istio does', () => {
    expect(normalizeTrustDomain('example@corp')).toBe('example.corp');
    expect(formatSpiffeId({ trustDomain: 'example@corp', namespace: 'ns1', serviceAccount: 'sa1' })).toBe('spiffe://example.corp/ns/ns1/sa/sa1');
  });

  it.each([
    ['cluster.local/ns/default/sa/reviews', 'this looks like a principal: add "spiffe://" or use fromPrincipal()'],
    ['SPIFFE://cluster.local/ns/default/sa/reviews', 'the scheme must be written in lower case'],
    ['https://cluster.local/ns/default/sa/reviews', 'it must start with "spiffe://"'],
    ['spiffe:///ns/default/sa/reviews', 'the trust domain is empty'],
    ['spiffe://Cluster.local/ns/default/sa/reviews', 'write the trust domain in lower case'],
    ['spiffe://a@b/ns/default/sa/reviews', '"@" is written "." in a SPIFFE ID'],
    ['spiffe://cluster.local:443/ns/default/sa/reviews', 'a SPIFFE ID has no port'],
    ['spiffe://cluster.local/ns/default', 'the path must be /ns/<namespace>/sa/<service-account>, got "/ns/default"'],
    ['spiffe://cluster.local/sa/reviews/ns/default', 'the path must be /ns/<namespace>/sa/<service-account>'],
    ['spiffe://cluster.local/ns/default/sa/reviews/', 'the path must be'],
    ['spiffe://cluster.local/ns//sa/reviews', 'the namespace is empty'],
    ['spiffe://cluster.local/ns/default/sa/..', 'the service account ".." may only contain'],
    ['spiffe://cluster.local/ns/default/sa/re views', 'the service account "re views" may only contain'],
    ['spiffe://cluster.local/ns/default/sa/reviews?x=1', 'no query or fragment'],
  ])('rejects %s, saying what is wrong', (text, problem) => {
    const e = errorOf(() => parseSpiffeId(text));
    expect(e.reason).toBe('invalid_spiffe_id');
    expect(e.message).toContain(JSON.stringify(text));
    expect(e.message).toContain(problem);
  });

  it('refuses to format an ID from bad parts, naming the field', () => {
    expect(errorOf(() => formatSpiffeId({ trustDomain: 'cluster.local', namespace: '', serviceAccount: 'x' })).message).toContain('the namespace is empty');
    expect(errorOf(() => formatSpiffeId({ trustDomain: 'cluster.local', namespace: 'a', serviceAccount: 'x/y' })).message).toContain('service account "x/y"');
  });

  it('bounds the length', () => {
    expect(errorOf(() => parseSpiffeId(`spiffe://cluster.local/ns/default/sa/${'a'.repeat(3000)}`)).message).toContain('longer than 2048');
  });

  it('tryParseSpiffeId answers undefined instead of throwing', () => {
    expect(tryParseSpiffeId('nope')).toBeUndefined();
    expect(tryParseSpiffeId(undefined)).toBeUndefined();
    expect(tryParseSpiffeId(REVIEWS)?.serviceAccount).toBe('reviews');
  });

  it('converts to and from the principal form AuthorizationPolicy uses', () => {
    expect(toPrincipal(REVIEWS)).toBe('cluster.local/ns/default/sa/reviews');
    expect(fromPrincipal('cluster.local/ns/default/sa/reviews')).toBe(REVIEWS);
    expect(errorOf(() => fromPrincipal('cluster.local/ns/default')).reason).toBe('invalid_spiffe_id');
  });
});

describe('trust domain aliases', () => {
  const mesh = { trustDomain: 'cluster.local', trustDomainAliases: ['old.example', 'legacy@corp'] };

  it('make one identity of the same namespace and service account in aliased domains', () => {
    expect(sameIdentity(REVIEWS, 'spiffe://old.example/ns/default/sa/reviews', mesh)).toBe(true);
    expect(sameIdentity(REVIEWS, 'spiffe://legacy.corp/ns/default/sa/reviews', mesh)).toBe(true);
    expect(sameIdentity(REVIEWS, 'spiffe://old.example/ns/default/sa/reviews', ['cluster.local', 'old.example'])).toBe(true);
    expect(sameIdentity(REVIEWS, 'spiffe://old.example/ns/default/sa/reviews')).toBe(false);
    expect(sameIdentity(REVIEWS, 'spiffe://other.example/ns/default/sa/reviews', mesh)).toBe(false);
    expect(sameIdentity(REVIEWS, 'spiffe://old.example/ns/default/sa/ratings', mesh)).toBe(false);
    expect(sameIdentity(REVIEWS, 'spiffe://old.example/ns/prod/sa/reviews', mesh)).toBe(false);
  });

  it('expand a list as Istio\'s ExpandWithTrustDomains does', () => {
    expect(expandTrustDomains([REVIEWS, 'spiffe://foreign/ns/a/sa/b', 'not-an-id'], mesh)).toEqual([
      REVIEWS, 'spiffe://old.example/ns/default/sa/reviews', 'spiffe://legacy.corp/ns/default/sa/reviews',
      'spiffe://foreign/ns/a/sa/b', 'not-an-id',
    ]);
  });
});

describe('verifySecureNaming', () => {
  it('accepts an allowed ID', () => {
    expect(verifySecureNaming(REVIEWS, ['spiffe://cluster.local/ns/default/sa/ratings', REVIEWS])).toBeNull();
  });

  it('rejects another ID, naming the expected and the presented one', () => {
    const e = verifySecureNaming('spiffe://cluster.local/ns/default/sa/attacker', [REVIEWS])!;
    expect(e).toBeInstanceOf(IdentityError);
    expect(e.reason).toBe('secure_naming_mismatch');
    expect(e.message).toBe(`secure naming: expected ${REVIEWS}, the peer presented spiffe://cluster.local/ns/default/sa/attacker`);
    expect(e.expected).toEqual([REVIEWS]);
    expect(e.presented).toBe('spiffe://cluster.local/ns/default/sa/attacker');
  });

  it('names every allowed ID, and says when the peer presented none', () => {
    const e = verifySecureNaming(undefined, [REVIEWS, 'spiffe://cluster.local/ns/default/sa/ratings'])!;
    expect(e.message).toBe(`secure naming: expected one of ${REVIEWS}, spiffe://cluster.local/ns/default/sa/ratings, the peer presented no SPIFFE ID (its certificate has no spiffe:// URI SAN)`);
  });

  it('accepts aliased trust domains only when told', () => {
    expect(verifySecureNaming('spiffe://old.example/ns/default/sa/reviews', [REVIEWS])).not.toBeNull();
    expect(verifySecureNaming('spiffe://old.example/ns/default/sa/reviews', [REVIEWS], ['cluster.local', 'old.example'])).toBeNull();
  });

  it('accepts anyone when no identity is known (Istio without service accounts)', () => {
    expect(verifySecureNaming(REVIEWS, [])).toBeNull();
  });

  it('is an IdentityError for instanceof even across copies (Symbol.for brand)', () => {
    const foreign = Object.assign(new Error('x'), { [Symbol.for('@meshwork/IdentityError')]: true });
    expect(foreign).toBeInstanceOf(IdentityError);
    expect(new Error('x')).not.toBeInstanceOf(IdentityError);
  });
});

describe('URI SANs as Node prints them', () => {
  it('are split on ", " but never inside a quoted value (no SAN injection)', () => {
    // Node JSON-quotes a SAN value holding ", " so that one SAN cannot pose as two.
    const text = 'URI:"spiffe://a/ns/x\\u002c URI:spiffe://evil/ns/a/sa/b", DNS:foo, URI:spiffe://td/ns/n/sa/s, URI:"http://q\\"uote\\\\x"';
    expect(uriSans(text)).toEqual(['spiffe://a/ns/x, URI:spiffe://evil/ns/a/sa/b', 'spiffe://td/ns/n/sa/s', 'http://q"uote\\x']);
    expect(uriSans(undefined)).toEqual([]);
    expect(uriSans('DNS:a, IP Address:127.0.0.1')).toEqual([]);
  });
});
