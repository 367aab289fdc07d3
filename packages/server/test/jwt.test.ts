/**
 * RequestAuthentication against a real JWKS server on 127.0.0.1, keys and tokens made with
 * jose, rules compiled from Istio YAML by @meshwork/policy. What is asserted is what Envoy's
 * jwt_authn filter (as Istio configures it) does with the same request.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decideInbound, type JwtRuleRef } from '@meshwork/policy';
import { JwtAuthenticator, type JwtAuthenticatorOptions, type JwtOutcome, type JwtRequest } from '../src/jwt.js';
import {
  deadUrl, jwksOf, makeKey, nowSeconds, rawToken, requestAuthentication, rulesFromYaml, sign, snapshotFromYaml,
  startJwksServer, yamlString, type JwksServer, type TestKey,
} from './support/jwt.js';

const ISSUER = 'https://issuer.example.com';
const OTHER_ISSUER = 'https://other.example.com';

let rsa: TestKey;
let ec: TestKey;
let rotated: TestKey;
let stranger: TestKey;
let server: JwksServer;
const authenticators: JwtAuthenticator[] = [];

beforeAll(async () => {
  rsa = await makeKey('RS256', 'rsa-1');
  ec = await makeKey('ES256', 'ec-1');
  rotated = await makeKey('RS256', 'rsa-2');
  // Same kid as `rsa`, different key: a forged signature.
  stranger = await makeKey('RS256', 'rsa-1');
  server = await startJwksServer(jwksOf(rsa, ec));
});

afterAll(async () => {
  await server.close();
});

afterEach(() => {
  for (const a of authenticators.splice(0)) a.close();
  server.setJwks(jwksOf(rsa, ec));
  server.setStatus(undefined);
});

function authenticator(options: JwtAuthenticatorOptions = {}): JwtAuthenticator {
  const a = new JwtAuthenticator(options);
  authenticators.push(a);
  return a;
}

function request(headers: Record<string, string> = {}, target = '/orders/1?x=1', method = 'GET'): JwtRequest {
  return { method, target, headers: { host: 'api.default.svc:8080', ...headers } };
}

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` });

function remoteRules(extra = '', uri = server.jwksUrl): JwtRuleRef[] {
  return rulesFromYaml(requestAuthentication('jwt', `- issuer: ${yamlString(ISSUER)}\n  jwksUri: ${yamlString(uri)}\n${extra}`));
}

function expectInvalid(out: JwtOutcome, body: string, status = 401): void {
  expect(out).toMatchObject({ kind: 'invalid', status, body });
  if (out.kind !== 'invalid') return;
  expect(out.headers['www-authenticate']).toBe('Bearer realm="http://api.default.svc:8080/orders/1", error="invalid_token"');
}

describe('options', () => {
  it('are validated when the authenticator is made, with an error that names the option', () => {
    expect(() => new JwtAuthenticator({ jwksCooldownMs: -1 })).toThrow(/jwksCooldownMs must be a non-negative/);
    expect(() => new JwtAuthenticator({ fetchTimeoutMs: Number.POSITIVE_INFINITY })).toThrow(/fetchTimeoutMs/);
  });
});

describe('valid tokens', () => {
  it('verifies an RS256 token from jwksUri: claims, principal iss/sub, token removed, authorization sees the principal', async () => {
    const yaml = `${requestAuthentication('jwt', `- issuer: ${yamlString(ISSUER)}\n  jwksUri: ${yamlString(server.jwksUrl)}\n  audiences: [api.example.com]`)}---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: require-jwt
  namespace: default
spec:
  selector:
    matchLabels:
      app: api
  rules:
  - from:
    - source:
        requestPrincipals: ["${ISSUER}/alice"]
`;
    const snap = snapshotFromYaml(yaml);
    const token = await sign(rsa, { iss: ISSUER, sub: 'alice', aud: ['https://api.example.com/', 'other'], role: 'admin' });
    const out = await authenticator().authenticate(snap.inbound.jwtRules, request(bearer(token)));
    expect(out).toMatchObject({ kind: 'valid', issuer: ISSUER, requestPrincipal: `${ISSUER}/alice`, target: '/orders/1?x=1', rule: { policy: 'default/jwt', index: 0 } });
    if (out.kind !== 'valid') return;
    expect(out.claims).toMatchObject({ iss: ISSUER, sub: 'alice', role: 'admin' });
    // forwardOriginalToken defaults to false: the Authorization header does not reach the app.
    expect(out.headers.remove).toContain('authorization');

    const base = { port: 8080, method: 'GET', target: '/orders/1', headers: { host: 'api' } };
    expect(decideInbound(snap, { ...base, jwtClaims: out.claims })).toMatchObject({ decision: 'ALLOW', requestPrincipal: `${ISSUER}/alice` });
    expect(decideInbound(snap, base)).toMatchObject({ decision: 'DENY', requestPrincipal: null });
  });

  it('verifies an ES256 token against an inline jwks', async () => {
    const rules = rulesFromYaml(requestAuthentication('inline', `- issuer: ${yamlString(ISSUER)}\n  jwks: ${yamlString(JSON.stringify(jwksOf(ec)))}`));
    const token = await sign(ec, { iss: ISSUER, sub: 'bob' });
    const out = await authenticator().authenticate(rules, request(bearer(token)));
    expect(out).toMatchObject({ kind: 'valid', requestPrincipal: `${ISSUER}/bob` });
  });

  it('accepts a token expired less than the 60 s clock skew ago', async () => {
    const token = await sign(rsa, { iss: ISSUER, sub: 'alice', exp: nowSeconds() - 30 });
    expect(await authenticator().authenticate(remoteRules(), request(bearer(token)))).toMatchObject({ kind: 'valid' });
  });

  it('splits scope, permission and spaceDelimitedClaims into lists for authorization', async () => {
    const rules = remoteRules('  spaceDelimitedClaims: [roles]\n');
    const token = await sign(rsa, { iss: ISSUER, sub: 'alice', scope: 'read  write', roles: 'a b', other: 'c d' });
    const out = await authenticator().authenticate(rules, request(bearer(token)));
    expect(out).toMatchObject({ kind: 'valid', claims: { scope: ['read', 'write'], roles: ['a', 'b'], other: 'c d' } });
  });
});

describe('invalid tokens (401 with Envoy\'s text)', () => {
  it('rejects an expired token', async () => {
    const token = await sign(rsa, { iss: ISSUER, sub: 'alice', exp: nowSeconds() - 120 });
    const out = await authenticator().authenticate(remoteRules(), request(bearer(token)));
    expectInvalid(out, 'Jwt is expired');
    expect(out).toMatchObject({ code: 'JwtExpired', headers: { 'content-type': 'text/plain' } });
  });

  it('rejects a token that is not yet valid', async () => {
    const token = await sign(rsa, { iss: ISSUER, sub: 'alice', nbf: nowSeconds() + 300 });
    expectInvalid(await authenticator().authenticate(remoteRules(), request(bearer(token))), 'Jwt not yet valid');
  });

  it('rejects a token from an issuer no rule names', async () => {
    const token = await sign(rsa, { iss: OTHER_ISSUER, sub: 'alice' });
    const before = server.hits();
    const out = await authenticator().authenticate(remoteRules(), request(bearer(token)));
    expectInvalid(out, 'Jwt issuer is not configured');
    expect(out).toMatchObject({ code: 'JwtUnknownIssuer', reason: expect.stringContaining(`token issuer "${OTHER_ISSUER}"`) });
    // Decided before any key is needed: the JWKS is not fetched for it.
    expect(server.hits()).toBe(before);
  });

  it('answers 403 for an audience that is not allowed, as Envoy does', async () => {
    const rules = remoteRules('  audiences: [api.example.com, https://second.example.com/]\n');
    const a = authenticator();
    const wrong = await sign(rsa, { iss: ISSUER, sub: 'alice', aud: 'elsewhere' });
    expectInvalid(await a.authenticate(rules, request(bearer(wrong))), 'Audiences in Jwt are not allowed', 403);
    const none = await sign(rsa, { iss: ISSUER, sub: 'alice' });
    expectInvalid(await a.authenticate(rules, request(bearer(none))), 'Audiences in Jwt are not allowed', 403);
    // Scheme and trailing slash are ignored on both sides (check_audience.cc).
    const ok = await sign(rsa, { iss: ISSUER, sub: 'alice', aud: ['x', 'second.example.com'] });
    expect(await a.authenticate(rules, request(bearer(ok)))).toMatchObject({ kind: 'valid' });
  });

  it('rejects a signature made by another key with the same kid', async () => {
    const token = await sign(stranger, { iss: ISSUER, sub: 'mallory' });
    expectInvalid(await authenticator().authenticate(remoteRules(), request(bearer(token))), 'Jwt verification fails');
  });

  it('rejects alg: none, signed or not', async () => {
    const a = authenticator();
    const payload = { iss: ISSUER, sub: 'mallory', exp: nowSeconds() + 60 };
    // An unsigned token has an empty third section: not three sections.
    const unsigned = rawToken({ alg: 'none', typ: 'JWT' }, payload);
    expectInvalid(await a.authenticate(remoteRules(), request(bearer(unsigned))), 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections');
    const withSig = rawToken({ alg: 'none' }, payload, 'c2ln');
    expectInvalid(await a.authenticate(remoteRules(), request(bearer(withSig))), 'Jwt header [alg] is not supported');
  });

  it('rejects malformed tokens', async () => {
    const a = authenticator();
    // A header location without prefix hands its whole value over as the token.
    const rules = remoteRules('  fromHeaders:\n  - name: x-token\n');
    const cases: [string, string][] = [
      ['abc', 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections'],
      ['a.b.c.d', 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections'],
      ['a$b.c.d', 'Jwt header is an invalid Base64url encoded'],
      [`${Buffer.from('not json').toString('base64url')}.e30.c2ln`, 'Jwt header is an invalid JSON'],
      [rawToken({ typ: 'JWT' }, {}, 'c2ln'), 'Jwt header [alg] field is required and must be a string'],
      [rawToken({ alg: 'RS256' }, { iss: 42 }, 'c2ln'), 'Jwt payload [iss] field is not a string'],
      [rawToken({ alg: 'RS256' }, { iss: ISSUER, exp: 'tomorrow' }, 'c2ln'), 'Jwt payload [exp] field is not an integer'],
      [rawToken({ alg: 'RS256' }, { iss: ISSUER, aud: [1] }, 'c2ln'), 'Jwt payload [aud] field is not a string or string list'],
    ];
    for (const [token, body] of cases) {
      const out = await a.authenticate(rules, request({ 'x-token': token }));
      expect({ token, body: out.kind === 'invalid' ? out.body : out.kind }).toEqual({ token, body });
    }
  });

  it('never puts the token in the reason or the response', async () => {
    const token = await sign(rsa, { iss: ISSUER, sub: 'alice', exp: nowSeconds() - 120 });
    const out = await authenticator().authenticate(remoteRules('  fromParams: [access_token]\n'), request({}, `/orders/1?access_token=${token}`));
    expect(out.kind).toBe('invalid');
    const text = JSON.stringify(out);
    for (const part of token.split('.')) expect(text).not.toContain(part);
    expect(out).toMatchObject({ reason: expect.stringContaining('RequestAuthentication default/jwt jwtRules[0]') });
  });
});

describe('key rotation and refetch bounds', () => {
  it('refetches the JWKS on an unknown kid and accepts the new key once it is served', async () => {
    const a = authenticator({ jwksCooldownMs: 0 });
    const rules = remoteRules();
    const before = server.hits();
    const token = await sign(rotated, { iss: ISSUER, sub: 'alice' });

    const first = await a.authenticate(rules, request(bearer(token)));
    expectInvalid(first, "Jwks doesn't have key to match kid or alg from Jwt");
    expect(first).toMatchObject({ reason: expect.stringContaining('kid "rsa-2"') });
    // The first fetch, then one refetch for the unknown kid.
    expect(server.hits() - before).toBe(2);

    server.setJwks(jwksOf(rsa, ec, rotated));
    expect(await a.authenticate(rules, request(bearer(token)))).toMatchObject({ kind: 'valid' });
    expect(server.hits() - before).toBe(3);
    // Known kids do not fetch again.
    expect(await a.authenticate(rules, request(bearer(await sign(rsa, { iss: ISSUER, sub: 'x' }))))).toMatchObject({ kind: 'valid' });
    expect(server.hits() - before).toBe(3);
  });

  it('does not refetch for a burst of unknown kids (cooldown after a fetch)', async () => {
    const a = authenticator();
    const rules = remoteRules();
    const before = server.hits();
    const tokens = await Promise.all(Array.from({ length: 50 }, (_, i) => sign(rsa, { iss: ISSUER, sub: 'mallory' }, { kid: `unknown-${i}` })));

    // All arrive before any keys are known: they share one fetch.
    const burst = await Promise.all(tokens.map((t) => a.authenticate(rules, request(bearer(t)))));
    expect(burst.every((o) => o.kind === 'invalid' && o.code === 'JwksKidAlgMismatch')).toBe(true);
    expect(server.hits() - before).toBe(1);

    // And one after another, inside the cooldown: no fetch at all.
    for (const t of tokens) await a.authenticate(rules, request(bearer(t)));
    expect(server.hits() - before).toBe(1);
  });

  it('fetches each JWKS URL once across rules arrays (new snapshots) that name it', async () => {
    const a = authenticator();
    const before = server.hits();
    const token = await sign(rsa, { iss: ISSUER, sub: 'alice' });
    for (let i = 0; i < 3; i++) expect(await a.authenticate(remoteRules(), request(bearer(token)))).toMatchObject({ kind: 'valid' });
    expect(server.hits() - before).toBe(1);
  });
});

describe('JWKS server unavailable', () => {
  it('rejects tokens of that issuer with 401 when nothing listens, and does not crash', async () => {
    const warnings: { fields: Record<string, unknown>; message: string }[] = [];
    const a = authenticator({ logger: { warn: (fields, message) => warnings.push({ fields, message }) } });
    const rules = remoteRules('', await deadUrl());
    const token = await sign(rsa, { iss: ISSUER, sub: 'alice' });
    const out = await a.authenticate(rules, request(bearer(token)));
    expectInvalid(out, 'Jwks remote fetch is failed');
    // Requests without a token are unaffected.
    expect(await a.authenticate(rules, request())).toMatchObject({ kind: 'none' });
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ fields: { issuer: ISSUER, error: expect.stringContaining('ECONNREFUSED') } });
    expect(JSON.stringify(warnings)).not.toContain(token.split('.')[1]);
  });

  it('bounds fetches to one per failure backoff while the endpoint fails, and recovers', async () => {
    server.setStatus(503);
    const a = authenticator({ jwksFailureBackoffMs: 60_000 });
    const rules = remoteRules();
    const before = server.hits();
    const token = await sign(rsa, { iss: ISSUER, sub: 'alice' });
    for (let i = 0; i < 20; i++) expectInvalid(await a.authenticate(rules, request(bearer(token))), 'Jwks remote fetch is failed');
    expect(server.hits() - before).toBe(1);

    const b = authenticator({ jwksFailureBackoffMs: 0 });
    expect(await b.authenticate(rules, request(bearer(token)))).toMatchObject({ kind: 'invalid' });
    server.setStatus(undefined);
    expect(await b.authenticate(rules, request(bearer(token)))).toMatchObject({ kind: 'valid' });
  });

  it('keeps serving keys it has when a refresh fails', async () => {
    // Max age 0: every request finds the keys stale and refreshes them in the background.
    const a = authenticator({ jwksCacheMaxAgeMs: 0, jwksFailureBackoffMs: 60_000 });
    const rules = remoteRules();
    const token = await sign(rsa, { iss: ISSUER, sub: 'alice' });
    expect(await a.authenticate(rules, request(bearer(token)))).toMatchObject({ kind: 'valid' });
    server.setStatus(503);
    for (let i = 0; i < 5; i++) expect(await a.authenticate(rules, request(bearer(token)))).toMatchObject({ kind: 'valid' });
  });

  it('refuses a JWKS response larger than jwksMaxBytes', async () => {
    server.setJwks({ keys: [rsa.jwk, ec.jwk], padding: 'x'.repeat(4096) });
    const a = authenticator({ jwksMaxBytes: 1024 });
    const token = await sign(rsa, { iss: ISSUER, sub: 'alice' });
    expectInvalid(await a.authenticate(remoteRules(), request(bearer(token))), 'Jwks remote fetch is failed');
  });

  it('finds the JWKS through OpenID discovery when a rule has neither jwks nor jwksUri', async () => {
    const rules = rulesFromYaml(requestAuthentication('oidc', `- issuer: ${yamlString(server.origin)}`));
    const before = server.hits('/.well-known/openid-configuration');
    const token = await sign(ec, { iss: server.origin, sub: 'carol' });
    const a = authenticator();
    expect(await a.authenticate(rules, request(bearer(token)))).toMatchObject({ kind: 'valid', requestPrincipal: `${server.origin}/carol` });
    expect(await a.authenticate(rules, request(bearer(token)))).toMatchObject({ kind: 'valid' });
    expect(server.hits('/.well-known/openid-configuration') - before).toBe(1);
  });
});

describe('token locations', () => {
  it('passes a request without a token with no identity (kind none), and so does a workload without rules', async () => {
    const a = authenticator();
    expect(await a.authenticate(remoteRules(), request())).toEqual({ kind: 'none', headers: { remove: [], set: [] } });
    expect(await a.authenticate([], request(bearer('garbage')))).toMatchObject({ kind: 'none' });
    // The prefix is case-sensitive: `bearer x` is not a token location.
    expect(await a.authenticate(remoteRules(), request({ authorization: 'bearer abc' }))).toMatchObject({ kind: 'none' });
  });

  it('reads the default access_token query parameter and removes it from the target', async () => {
    const token = await sign(rsa, { iss: ISSUER, sub: 'alice' });
    const out = await authenticator().authenticate(remoteRules(), request({}, `/orders/1?a=1&access_token=${token}&b=%20x`));
    expect(out).toMatchObject({ kind: 'valid', target: '/orders/1?a=1&b=%20x' });
  });

  it('keeps the token where it was with forwardOriginalToken: true', async () => {
    const token = await sign(rsa, { iss: ISSUER, sub: 'alice' });
    const rules = remoteRules('  fromParams: [token]\n  forwardOriginalToken: true\n');
    const out = await authenticator().authenticate(rules, request({}, `/orders/1?token=${token}`));
    expect(out).toMatchObject({ kind: 'valid', target: `/orders/1?token=${token}`, headers: { remove: [], set: [] } });
  });

  it('reads fromHeaders with a custom prefix, and only there', async () => {
    const rules = remoteRules('  fromHeaders:\n  - name: X-Api-Token\n    prefix: "Token "\n');
    const a = authenticator();
    const token = await sign(rsa, { iss: ISSUER, sub: 'alice' });
    const out = await a.authenticate(rules, request({ 'x-api-token': `Token ${token}` }));
    expect(out).toMatchObject({ kind: 'valid', headers: { remove: ['x-api-token'] } });
    // Explicit locations replace the defaults: Authorization is not looked at.
    expect(await a.authenticate(rules, request(bearer('not-a-token')))).toMatchObject({ kind: 'none' });
    expect(await a.authenticate(rules, request({ 'x-api-token': 'Bearer x' }))).toMatchObject({ kind: 'none' });
  });

  it('reads fromCookies and removes only that cookie', async () => {
    const rules = remoteRules('  fromCookies: [session]\n');
    const token = await sign(rsa, { iss: ISSUER, sub: 'alice' });
    const a = authenticator();
    const out = await a.authenticate(rules, request({ cookie: `theme=dark; session=${token}; lang=en` }));
    expect(out).toMatchObject({ kind: 'valid', requestPrincipal: `${ISSUER}/alice`, headers: { set: [['cookie', 'theme=dark; lang=en']] } });
    const alone = await a.authenticate(rules, request({ cookie: `session="${token}"` }));
    expect(alone).toMatchObject({ kind: 'valid', headers: { remove: ['cookie'] } });
  });

  it('bypasses JWT checks for a CORS preflight', async () => {
    const out = await authenticator().authenticate(remoteRules(), request({ ...bearer('broken'), origin: 'https://app.example.com', 'access-control-request-method': 'POST' }, '/orders', 'OPTIONS'));
    expect(out).toMatchObject({ kind: 'none' });
    // An OPTIONS request that is not a preflight is checked.
    expect(await authenticator().authenticate(remoteRules(), request(bearer('broken'), '/orders', 'OPTIONS'))).toMatchObject({ kind: 'invalid' });
  });
});

describe('outputs', () => {
  it('writes the payload to outputPayloadToHeader (base64url of the payload JSON)', async () => {
    const rules = remoteRules('  outputPayloadToHeader: X-Jwt-Payload\n');
    const token = await sign(rsa, { iss: ISSUER, sub: 'alice', n: 1 });
    const out = await authenticator().authenticate(rules, request(bearer(token)));
    expect(out.kind).toBe('valid');
    if (out.kind !== 'valid') return;
    const [name, value] = out.headers.set.find(([n]) => n === 'x-jwt-payload')!;
    expect(name).toBe('x-jwt-payload');
    expect(JSON.parse(Buffer.from(value, 'base64url').toString('utf8'))).toMatchObject({ iss: ISSUER, sub: 'alice', n: 1 });
  });

  it('copies claims to headers (nested via dots), overwriting what the client sent, and strips spoofed ones without a token', async () => {
    const rules = remoteRules('  outputClaimToHeaders:\n  - header: x-email\n    claim: user.email\n  - header: x-level\n    claim: user.level\n  - header: x-admin\n    claim: admin\n  - header: x-groups\n    claim: groups\n  - header: x-missing\n    claim: user.nothing\n');
    const token = await sign(rsa, { iss: ISSUER, sub: 'alice', user: { email: 'alice@example.com', level: 3 }, admin: false, groups: ['a', 'b'] });
    const a = authenticator();
    const out = await a.authenticate(rules, request({ ...bearer(token), 'x-email': 'spoofed@example.com' }));
    expect(out.kind).toBe('valid');
    if (out.kind !== 'valid') return;
    expect(out.headers.remove).toEqual(expect.arrayContaining(['x-email', 'x-level', 'x-admin', 'x-groups', 'x-missing', 'authorization']));
    expect(Object.fromEntries(out.headers.set)).toEqual({
      'x-email': 'alice@example.com',
      'x-level': '3',
      'x-admin': 'false',
      'x-groups': Buffer.from('["a","b"]').toString('base64'),
    });
    // No token: the client's own x-email must not reach the app as if it came from a token.
    expect(await a.authenticate(rules, request({ 'x-email': 'spoofed@example.com' }))).toMatchObject({ kind: 'none', headers: { remove: expect.arrayContaining(['x-email']) } });
  });
});

describe('several rules (Istio sorts them by issuer and requires any one)', () => {
  const yaml = (): string => requestAuthentication('two', [
    `- issuer: ${yamlString(OTHER_ISSUER)}`,
    `  jwks: ${yamlString(JSON.stringify(jwksOf(ec)))}`,
    `- issuer: ${yamlString(ISSUER)}`,
    `  jwksUri: ${yamlString(server.jwksUrl)}`,
  ].join('\n'));

  it('accepts a token of either issuer at the shared Authorization header', async () => {
    const rules = rulesFromYaml(yaml());
    const a = authenticator();
    const first = await a.authenticate(rules, request(bearer(await sign(rsa, { iss: ISSUER, sub: 'alice' }))));
    expect(first).toMatchObject({ kind: 'valid', issuer: ISSUER, rule: { index: 1 } });
    const second = await a.authenticate(rules, request(bearer(await sign(ec, { iss: OTHER_ISSUER, sub: 'bob' }))));
    expect(second).toMatchObject({ kind: 'valid', issuer: OTHER_ISSUER, rule: { index: 0 } });
  });

  it('reports the real failure of the issuer\'s rule, not the other rule\'s unknown issuer', async () => {
    const rules = rulesFromYaml(yaml());
    const a = authenticator();
    const expired = await sign(rsa, { iss: ISSUER, sub: 'alice', exp: nowSeconds() - 3600 });
    expectInvalid(await a.authenticate(rules, request(bearer(expired))), 'Jwt is expired');
    const unknown = await sign(rsa, { iss: 'https://nobody.example.com', sub: 'x' });
    expectInvalid(await a.authenticate(rules, request(bearer(unknown))), 'Jwt issuer is not configured');
  });
});
