/**
 * RequestAuthentication and PeerAuthentication semantic validation against Istio's own test
 * tables: TestValidateRequestAuthentication and TestValidatePeerAuthentication
 * (pkg/config/validation/validation_test.go) and TestParseJwksURI
 * (pkg/config/security/security_test.go), translated from Go struct literals to specs.
 */
import { describe, expect, it } from 'vitest';
import { validatePeerAuthentication } from '../src/validate/semantic/peer-authentication.js';
import { validateRequestAuthentication } from '../src/validate/semantic/request-authentication.js';
import { goUrlParse, parseGoDuration } from '../src/validate/go-compat.js';
import { durationError } from '../src/validate/semantic/common.js';
import { jwksUriError } from '../src/validate/semantic/security-common.js';
import { parseJwks } from '../src/validate/semantic/request-authentication.js';
import { run, show } from './semantic-security-harness.js';

interface GoCase {
  name: string;
  configName: string;
  annotations?: Record<string, string>;
  spec: unknown;
  valid: boolean;
  warning: boolean;
}

// validation_test.go: TestValidateRequestAuthentication (every case; namespace "bar").
const REQUEST_AUTHN_CASES: GoCase[] = [
  {"name":"empty spec","configName":"default","spec":{},"valid":true,"warning":false},
  {"name":"another empty spec","configName":"default","spec":{"selector":{}},"valid":true,"warning":true},
  {"name":"empty spec with non default name","configName":"foo","spec":{},"valid":true,"warning":false},
  {"name":"dry run annotation not supported","configName":"foo","annotations":{"istio.io/dry-run":"true"},"spec":{},"valid":false,"warning":false},
  {"name":"default name with non empty selector","configName":"default","spec":{"selector":{"matchLabels":{"app":"httpbin"}}},"valid":true,"warning":false},
  {"name":"empty jwt rule","configName":"foo","spec":{"jwtRules":[{}]},"valid":false,"warning":false},
  {"name":"empty issuer and jwksUri","configName":"foo","spec":{"jwtRules":[{"issuer":""}]},"valid":false,"warning":false},
  {"name":"empty issuer and set jwksUri","configName":"foo","spec":{"jwtRules":[{"issuer":"","jwksUri":"https://foo.com/cert"}]},"valid":true,"warning":false},
  {"name":"bad JwksUri - no protocol","configName":"foo","spec":{"jwtRules":[{"issuer":"foo.com","jwksUri":"foo.com"}]},"valid":false,"warning":false},
  {"name":"bad JwksUri - invalid port","configName":"foo","spec":{"jwtRules":[{"issuer":"foo.com","jwksUri":"https://foo.com:not-a-number"}]},"valid":false,"warning":false},
  {"name":"empty value","configName":"foo","spec":{"selector":{"matchLabels":{"app":"httpbin","version":""}},"jwtRules":[{"issuer":"foo.com","jwksUri":"https://foo.com/cert"}]},"valid":true,"warning":false},
  {"name":"bad workload selector - empty key","configName":"foo","spec":{"selector":{"matchLabels":{"app":"httpbin","":"v1"}},"jwtRules":[{"issuer":"foo.com","jwksUri":"https://foo.com/cert"}]},"valid":false,"warning":false},
  {"name":"good targetRef","configName":"foo","spec":{"targetRef":{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"foo"},"jwtRules":[{"issuer":"foo.com","jwksUri":"https://foo.com/cert"}]},"valid":true,"warning":false},
  {"name":"bad targetRef - empty name","configName":"foo","spec":{"targetRef":{"group":"gateway.networking.k8s.io","kind":"Gateway"},"jwtRules":[{"issuer":"foo.com","jwksUri":"https://foo.com/cert"}]},"valid":false,"warning":false},
  {"name":"bad targetRef - non-empty namespace","configName":"foo","spec":{"targetRef":{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"foo","namespace":"bar"},"jwtRules":[{"issuer":"foo.com","jwksUri":"https://foo.com/cert"}]},"valid":false,"warning":false},
  {"name":"bad targetRef - wrong group","configName":"foo","spec":{"targetRef":{"group":"wrong-group","kind":"Gateway","name":"foo"},"jwtRules":[{"issuer":"foo.com","jwksUri":"https://foo.com/cert"}]},"valid":false,"warning":false},
  {"name":"bad targetRef - wrong kind","configName":"foo","spec":{"targetRef":{"group":"gateway.networking.k8s.io","kind":"wrong-kind","name":"foo"},"jwtRules":[{"issuer":"foo.com","jwksUri":"https://foo.com/cert"}]},"valid":false,"warning":false},
  {"name":"targetRef and selector cannot both be set","configName":"foo","spec":{"targetRef":{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"foo"},"jwtRules":[{"issuer":"foo.com","jwksUri":"https://foo.com/cert"}],"selector":{"matchLabels":{"app":"httpbin"}}},"valid":false,"warning":false},
  {"name":"bad header location","configName":"default","spec":{"jwtRules":[{"issuer":"foo.com","jwksUri":"https://foo.com","fromHeaders":[{"name":"","prefix":"Bearer "}]}]},"valid":false,"warning":false},
  {"name":"bad param location","configName":"default","spec":{"jwtRules":[{"issuer":"foo.com","jwksUri":"https://foo.com","fromParams":[""]}]},"valid":false,"warning":false},
  {"name":"good","configName":"default","spec":{"jwtRules":[{"issuer":"foo.com","jwksUri":"https://foo.com","fromHeaders":[{"name":"x-foo","prefix":"Bearer "}]}]},"valid":true,"warning":false},
  {"name":"bad cookie location","configName":"default","spec":{"jwtRules":[{"issuer":"foo.com","jwksUri":"https://foo.com","fromCookies":["","foo"]}]},"valid":false,"warning":false},
  {"name":"jwks ok","configName":"default","spec":{"jwtRules":[{"issuer":"foo.com","jwks":"{ \"keys\":[ {\"e\":\"AQAB\",\"kid\":\"DHFbpoIUqrY8t2zpA2qXfCmr5VO5ZEr4RzHU_-envvQ\",\"kty\":\"RSA\",\"n\":\"xAE7eB6qugXyCAG3yhh7pkDkT65pHymX-P7KfIupjf59vsdo91bSP9C8H07pSAGQO1MV_xFj9VswgsCg4R6otmg5PV2He95lZdHtOcU5DXIg_pbhLdKXbi66GlVeK6ABZOUW3WYtnNHD-91gVuoeJT_DwtGGcp4ignkgXfkiEm4sw-4sfb4qdt5oLbyVpmW6x9cfa7vs2WTfURiCrBoUqgBo_-4WTiULmmHSGZHOjzwa8WtrtOQGsAFjIbno85jp6MnGGGZPYZbDAa_b3y5u-YpW7ypZrvD8BgtKVjgtQgZhLAGezMt0ua3DRrWnKqTZ0BJ_EyxOGuHJrLsn00fnMQ\"}]}","fromHeaders":[{"name":"x-foo","prefix":"Bearer "}]}]},"valid":true,"warning":false},
  {"name":"jwks error","configName":"default","spec":{"jwtRules":[{"issuer":"foo.com","jwks":"foo","fromHeaders":[{"name":"x-foo","prefix":"Bearer "}]}]},"valid":false,"warning":false},
  {"name":"jwks with private RSA key warns","configName":"default","spec":{"jwtRules":[{"issuer":"foo.com","jwks":"{\"keys\":[{\"kty\":\"RSA\",\"e\":\"AQAB\",\"kid\":\"private\",\"n\":\"xAE7eB6qugXyCAG3yhh7pkDkT65pHymX-P7KfIupjf59vsdo91bSP9C8H07pSAGQO1MV_xFj9VswgsCg4R6otmg5PV2He95lZdHtOcU5DXIg_pbhLdKXbi66GlVeK6ABZOUW3WYtnNHD-91gVuoeJT_DwtGGcp4ignkgXfkiEm4sw-4sfb4qdt5oLbyVpmW6x9cfa7vs2WTfURiCrBoUqgBo_-4WTiULmmHSGZHOjzwa8WtrtOQGsAFjIbno85jp6MnGGGZPYZbDAa_b3y5u-YpW7ypZrvD8BgtKVjgtQgZhLAGezMt0ua3DRrWnKqTZ0BJ_EyxOGuHJrLsn00fnMQ\",\"d\":\"jJVKLOMXjlSnICzfP_eWshwR_DQp1U_GBLn-bL2qf90U5GMRDg5fT7Df3M2zL3DhMzdLDIeBmh-ujMTPjU0PWyVN5JX9LBhAOgsX3DKAdR2KMlEsBM4HE6VV1JhqQozqAcSPwhBHJM_pBM21S94EZf_RbA0PvyLcjeLP4WqAOY-J4OXVR3rzKwAH02NjLBR-Tnoiv-WlPZbE9SmYJL0G3xRFVELYwf4l7t-PSrZxk6V_xrTLpsScA-WICTaXmRGyDOSBuiBfHfDQyiTfQEUjcc6aQ7slLAwfmU2AeYJqHk1zwZpDJpgEf9G3eYi09Q2MLpzSjMxWVqV5L7TtcoGv5Q\"}]}"}]},"valid":true,"warning":true},
  {"name":"null outputClaimToHeader","configName":"default","spec":{"jwtRules":[{"issuer":"foo.com","jwksUri":"https://foo.com","outputClaimToHeaders":[{}]}]},"valid":false,"warning":false},
  {"name":"null claim value in outputClaimToHeader ","configName":"default","spec":{"jwtRules":[{"issuer":"foo.com","jwksUri":"https://foo.com","outputClaimToHeaders":[{"header":"x-jwt-claim","claim":""}]}]},"valid":false,"warning":false},
  {"name":"null header value in outputClaimToHeader ","configName":"default","spec":{"jwtRules":[{"issuer":"foo.com","jwksUri":"https://foo.com","outputClaimToHeaders":[{"header":"","claim":"sub"}]}]},"valid":false,"warning":false},
  {"name":"invalid header value in outputClaimToHeader ","configName":"default","spec":{"jwtRules":[{"issuer":"foo.com","jwksUri":"https://foo.com","outputClaimToHeaders":[{"header":"abc%123","claim":"sub"}]}]},"valid":false,"warning":false},
];

// validation_test.go: TestValidatePeerAuthentication (every case).
const PEER_AUTHN_CASES: GoCase[] = [
  {"name":"empty spec","configName":"default","spec":{},"valid":true,"warning":false},
  {"name":"empty mtls with selector of empty labels","configName":"default","spec":{"selector":{}},"valid":true,"warning":true},
  {"name":"empty spec with non default name","configName":"foo","spec":{},"valid":true,"warning":false},
  {"name":"default name with non empty selector","configName":"default","spec":{"selector":{"matchLabels":{"app":"httpbin"}}},"valid":true,"warning":false},
  {"name":"empty port level mtls","configName":"foo","spec":{"selector":{"matchLabels":{"app":"httpbin"}},"portLevelMtls":{}},"valid":false,"warning":false},
  {"name":"empty selector with port level mtls","configName":"default","spec":{"portLevelMtls":{"8080":{"mode":"UNSET"}}},"valid":false,"warning":false},
  {"name":"port 0","configName":"foo","spec":{"portLevelMtls":{"0":{"mode":"UNSET"}}},"valid":false,"warning":false},
  {"name":"unset mode","configName":"default","spec":{"mtls":{"mode":"UNSET"}},"valid":true,"warning":false},
  {"name":"port level","configName":"port-level","spec":{"selector":{"matchLabels":{"app":"httpbin"}},"portLevelMtls":{"8080":{"mode":"UNSET"}}},"valid":true,"warning":false},
];

describe('TestValidateRequestAuthentication (Istio Go table)', () => {
  it('covers the whole Go table', () => expect(REQUEST_AUTHN_CASES.length).toBe(29));
  for (const c of REQUEST_AUTHN_CASES) {
    it(`${c.name}: ${c.valid ? 'accepted' : 'rejected'}${c.warning ? ' with a warning' : ''}`, () => {
      const f = run(validateRequestAuthentication, 'RequestAuthentication', c.spec, { name: c.configName, namespace: 'bar', annotations: c.annotations ?? {} });
      expect(f.errors.length === 0, show(f)).toBe(c.valid);
      expect(f.warnings.length > 0, show(f)).toBe(c.warning);
      for (const e of f.errors) expect(e.fix, e.message).toBeTruthy();
    });
  }
});

describe('TestValidatePeerAuthentication (Istio Go table)', () => {
  it('covers the whole Go table', () => expect(PEER_AUTHN_CASES.length).toBe(9));
  for (const c of PEER_AUTHN_CASES) {
    it(`${c.name}: ${c.valid ? 'accepted' : 'rejected'}${c.warning ? ' with a warning' : ''}`, () => {
      const f = run(validatePeerAuthentication, 'PeerAuthentication', c.spec, { name: c.configName, namespace: 'bar' });
      expect(f.errors.length === 0, show(f)).toBe(c.valid);
      expect(f.warnings.length > 0, show(f)).toBe(c.warning);
    });
  }
});

// security_test.go: TestParseJwksURI.
const JWKS_URI_CASES: { uri: string; valid: boolean }[] = [
  {"uri":"foo.bar.com","valid":false},
  {"uri":"tcp://foo.bar.com:abc","valid":false},
  {"uri":"http://foo.bar.com:abc","valid":false},
  {"uri":"http://foo.bar.com","valid":true},
  {"uri":"https://foo.bar.com","valid":true},
  {"uri":"http://foo.bar.com:1234","valid":true},
  {"uri":"https://foo.bar.com:1234/secure/key","valid":true},
];

describe('TestParseJwksURI (Istio Go table)', () => {
  for (const c of JWKS_URI_CASES) {
    it(`${c.uri}: ${c.valid ? 'valid' : 'invalid'}`, () => expect(jwksUriError(c.uri) === undefined).toBe(c.valid));
  }
});

// ---------------------------------------------------------------------------------------------
// Beyond the Go tables.
// ---------------------------------------------------------------------------------------------

const reqAuthn = (rule: unknown) => run(validateRequestAuthentication, 'RequestAuthentication', { jwtRules: [rule] }, { name: 'ra', namespace: 'ns' });
const reqErrors = (rule: unknown) => reqAuthn(rule).errors.map((e) => `${e.path}: ${e.message}`);

const RSA_N = 'xAE7eB6qugXyCAG3yhh7pkDkT65pHymX-P7KfIupjf59vsdo91bSP9C8H07pSAGQO1MV_xFj9VswgsCg4R6otmg5PV2He95lZdHtOcU5DXIg_pbhLdKXbi66GlVeK6ABZOUW3WYtnNHD-91gVuoeJT_DwtGGcp4ignkgXfkiEm4sw-4sfb4qdt5oLbyVpmW6x9cfa7vs2WTfURiCrBoUqgBo_-4WTiULmmHSGZHOjzwa8WtrtOQGsAFjIbno85jp6MnGGGZPYZbDAa_b3y5u-YpW7ypZrvD8BgtKVjgtQgZhLAGezMt0ua3DRrWnKqTZ0BJ_EyxOGuHJrLsn00fnMQ';

describe('RequestAuthentication: jwksUri', () => {
  it('accepts absolute http(s) URLs, via jwksUri or jwks_uri', () => {
    expect(reqErrors({ issuer: 'i', jwksUri: 'https://example.com:8443/.well-known/jwks.json?x=1#frag' })).toEqual([]);
    expect(reqErrors({ issuer: 'i', jwks_uri: 'http://[::1]:8080/jwks' })).toEqual([]);
    expect(reqErrors({ jwksUri: 'HTTPS://example.com/jwks' })).toEqual([]);
  });
  it('rejects other schemes and unparsable URLs, at the field used', () => {
    expect(reqErrors({ issuer: 'i', jwksUri: 'ftp://example.com/jwks' })).toEqual(['spec.jwtRules[0].jwksUri: URI scheme "ftp" is not supported']);
    expect(reqErrors({ issuer: 'i', jwks_uri: '/jwks.json' })).toEqual(['spec.jwtRules[0].jwks_uri: URI scheme "" is not supported']);
    expect(reqErrors({ issuer: 'i', jwksUri: 'https://exa mple.com/' })).toEqual(['spec.jwtRules[0].jwksUri: parse "https://exa mple.com/": invalid character " " in host name']);
    expect(reqErrors({ issuer: 'i', jwksUri: 'https://example.com/%zz' })).toEqual(['spec.jwtRules[0].jwksUri: parse "https://example.com/%zz": invalid URL escape "%zz"']);
    expect(reqErrors({ issuer: 'i', jwksUri: 'https://[1.2.3.4]/' })).toEqual(['spec.jwtRules[0].jwksUri: parse "https://[1.2.3.4]/": invalid IP-literal']);
  });
});

describe('RequestAuthentication: inline jwks (jwx v1 jwk.Parse)', () => {
  const jwks = (j: unknown) => reqAuthn({ issuer: 'i', jwks: typeof j === 'string' ? j : JSON.stringify(j) });
  it('accepts a key set, a single key, and an empty set', () => {
    expect(jwks({ keys: [{ kty: 'RSA', e: 'AQAB', n: RSA_N, kid: 'k', alg: 'RS256', use: 'sig', key_ops: ['verify'] }] }).errors).toEqual([]);
    expect(jwks({ kty: 'EC', crv: 'P-256', x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU', y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0' }).errors).toEqual([]);
    expect(jwks({ kty: 'OKP', crv: 'Ed25519', x: '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo' }).errors).toEqual([]);
    expect(jwks({ keys: [] }).errors).toEqual([]);
    expect(jwks({ keys: null }).errors).toEqual([]);
  });
  it('rejects what jwk.Parse rejects', () => {
    const msg = (j: unknown) => jwks(j).errors.map((e) => e.message)[0];
    expect(msg('not json')).toMatch(/^jwks parse error: failed to unmarshal JWK set: /);
    expect(msg([])).toBe("jwks parse error: failed to unmarshal JWK set: expected '{', but got '['");
    expect(msg({ keys: {} })).toBe('jwks parse error: failed to unmarshal JWK set: failed to decode "keys": json: cannot unmarshal object into Go value of type []json.RawMessage');
    expect(msg({ keys: [{ kty: 'DSA' }] })).toBe('jwks parse error: failed to unmarshal JWK set: failed to decode key #0 in "keys": invalid key type from JSON (DSA)');
    expect(msg({ keys: [{ kty: 'RSA', e: 'AQAB' }] })).toBe('jwks parse error: failed to unmarshal JWK set: failed to decode key #0 in "keys": failed to unmarshal JSON into key (*jwk.rsaPublicKey): required field n is missing');
    expect(msg({ kty: 'EC', x: 'AA', y: 'AA' })).toBe('jwks parse error: failed to unmarshal JWK set: failed to parse sole key in key set: failed to unmarshal JSON into key (*jwk.ecdsaPublicKey): required field crv is missing');
    expect(msg({ keys: [{ kty: 'RSA', e: 'AQAB', n: 'not base64!' }] })).toContain('failed to decode value for key n: expected base64 encoded []byte (string)');
    expect(msg({ keys: [{ kty: 'RSA', e: 'AQAB', n: RSA_N, kid: 7 }] })).toContain('failed to decode value for key kid');
    expect(msg({ keys: [{ kty: 'RSA', e: 'AQAB', n: RSA_N, x5c: ['AAAA'] }] })).toContain('failed to decode value for key x5c: failed to parse certificate');
  });
  it('does not check what jwk.Parse does not: curves, key sizes, key_ops names', () => {
    expect(jwks({ kty: 'EC', crv: 'P-999', x: 'AA', y: 'AA' }).errors).toEqual([]);
    expect(jwks({ kty: 'RSA', e: 'AQAB', n: 'AA', key_ops: ['launch'] }).errors).toEqual([]);
  });
  it('warns once per key with private material', () => {
    const f = jwks({ keys: [{ kty: 'RSA', e: 'AQAB', n: RSA_N }, { kty: 'oct', k: 'c2VjcmV0' }, { kty: 'EC', crv: 'P-256', x: 'AA', y: 'AA', d: 'AA' }] });
    expect(f.errors).toEqual([]);
    expect(f.warnings.map((w) => w.message)).toEqual([
      'jwks key at index 1 contains private key material; only public keys are used for verification',
      'jwks key at index 2 contains private key material; only public keys are used for verification',
    ]);
  });
  it('parses standard and URL-safe base64, padded or not', () => {
    for (const n of ['AQAB', 'AQA', 'AQ==', 'AQ', 'a+b/', 'a-b_']) expect(parseJwks(JSON.stringify({ kty: 'oct', k: n })), n).not.toHaveProperty('error');
    for (const n of ['A', 'AQ=', 'a+b_', 'A===']) expect(parseJwks(JSON.stringify({ kty: 'oct', k: n })), n).toHaveProperty('error');
  });
});

describe('RequestAuthentication: other rule fields', () => {
  it('checks timeout as Istio does (at least 1ms, whole milliseconds)', () => {
    expect(reqErrors({ issuer: 'i', timeout: '5s' })).toEqual([]);
    expect(reqErrors({ issuer: 'i', timeout: '1ms' })).toEqual([]);
    expect(reqErrors({ issuer: 'i', timeout: '1.5ms' })).toEqual(['spec.jwtRules[0].timeout: only durations to ms precision are supported']);
    expect(reqErrors({ issuer: 'i', timeout: '500us' })).toEqual(['spec.jwtRules[0].timeout: duration must be greater than 1ms']);
    expect(reqErrors({ issuer: 'i', timeout: '0s' })).toEqual(['spec.jwtRules[0].timeout: duration must be greater than 1ms']);
    expect(reqErrors({ issuer: 'i', timeout: '5' })).toEqual(['spec.jwtRules[0].timeout: bad Duration: time: missing unit in duration "5"']);
  });
  it('checks outputClaimToHeaders header names strictly', () => {
    expect(reqErrors({ issuer: 'i', outputClaimToHeaders: [{ header: 'x-jwt_sub', claim: 'sub' }] })).toEqual([]);
    expect(reqErrors({ issuer: 'i', outputClaimToHeaders: [{ header: 'x.jwt', claim: 'sub' }] })).toEqual(['spec.jwtRules[0].outputClaimToHeaders[0].header: header name x.jwt is not a valid header name']);
    expect(reqErrors({ issuer: 'i', outputClaimToHeaders: [null] })).toEqual(['spec.jwtRules[0].outputClaimToHeaders[0].claim: outputClaimToHeaders header and claim value must be non-empty string']);
  });
  it('accepts an issuer without key source (OIDC discovery) and a jwksUri without issuer', () => {
    expect(reqErrors({ issuer: 'https://accounts.example.com' })).toEqual([]);
    expect(reqErrors({ jwksUri: 'https://example.com/jwks' })).toEqual([]);
  });
  it('rejects a rule written as null, which decodes to an empty rule', () => {
    expect(reqErrors(null)).toEqual(['spec.jwtRules[0].issuer: issuer or jwksUri must be non-empty string']);
  });
});

describe('PeerAuthentication: beyond the Go table', () => {
  const pa = (spec: unknown) => run(validatePeerAuthentication, 'PeerAuthentication', spec, { name: 'pa', namespace: 'ns' });
  const paErrors = (spec: unknown) => pa(spec).errors.map((e) => `${e.path}: ${e.message}`);
  it('requires a selector with labels for port-level mTLS', () => {
    expect(paErrors({ selector: {}, portLevelMtls: { 8080: { mode: 'DISABLE' } } })).toEqual(['spec.portLevelMtls: mesh/namespace peer authentication cannot have port level mTLS']);
    expect(pa({ selector: {}, portLevelMtls: { 8080: { mode: 'DISABLE' } } }).warnings).toHaveLength(1);
    expect(paErrors({ selector: { matchLabels: { app: 'a' } }, mtls: { mode: 'STRICT' }, portLevelMtls: { 8080: { mode: 'DISABLE' }, 9090: null } })).toEqual([]);
  });
  it('rejects an empty portLevelMtls map (unlike an empty list, it survives decoding)', () => {
    expect(paErrors({ selector: { matchLabels: { app: 'a' } }, portLevelMtls: {} })).toEqual(['spec.portLevelMtls: port level mTLS, if defined, must have at least one element']);
  });
  it('rejects ports outside 1..65535 at the port', () => {
    expect(paErrors({ selector: { matchLabels: { app: 'a' } }, portLevelMtls: { 0: {}, 65536: {}, http: {}, 65535: {} } })).toEqual([
      'spec.portLevelMtls["0"]: port must be in range 1..65535',
      'spec.portLevelMtls["65536"]: port must be in range 1..65535',
      'spec.portLevelMtls.http: port must be in range 1..65535',
    ]);
  });
  it('rejects wildcards and empty keys in the selector', () => {
    expect(paErrors({ selector: { matchLabels: { app: 'a*' } } })).toEqual(['spec.selector.matchLabels.app: wildcard is not supported in selector: "app=a*"']);
  });
  it('rejects istio.io/dry-run like every kind but AuthorizationPolicy, and then stops', () => {
    const f = run(validatePeerAuthentication, 'PeerAuthentication', { portLevelMtls: {} }, { name: 'pa', namespace: 'ns', annotations: { 'istio.io/dry-run': 'true' } });
    expect(f.errors.map((e) => e.message)).toEqual(['ns/pa has unsupported annotation istio.io/dry-run, please remove the annotation']);
  });
});

describe('Go parsers the checks depend on', () => {
  it('time.ParseDuration', () => {
    const ns = (s: string) => { const d = parseGoDuration(s); return typeof d === 'bigint' ? d.toString() : d.error; };
    expect(ns('1h2m3.5s')).toBe('3723500000000');
    expect(ns('1.5ms')).toBe('1500000');
    expect(ns('-2s')).toBe('-2000000000');
    expect(ns('0')).toBe('0');
    expect(ns('.5s')).toBe('500000000');
    expect(ns('1µs')).toBe('1000');
    expect(ns('')).toBe('time: invalid duration ""');
    expect(ns('5')).toBe('time: missing unit in duration "5"');
    expect(ns('5d')).toBe('time: unknown unit "d" in duration "5d"');
    expect(ns('.s')).toBe('time: invalid duration ".s"');
    expect(ns('3000000h')).toBe('time: invalid duration "3000000h"');
    expect(durationError('10ms')).toBeUndefined();
  });
  it('url.Parse', () => {
    const p = (s: string) => { const u = goUrlParse(s); return 'error' in u ? u.error : `${u.scheme}|${u.host}|${u.path}`; };
    expect(p('https://user:pw@example.com:443/a/b?q#f')).toBe('https|example.com:443|/a/b');
    expect(p('example.com/x')).toBe('||example.com/x');
    expect(p('a:b/c')).toBe('a||');
    expect(p('1a:b')).toBe('parse "1a:b": first path segment in URL cannot contain colon');
    expect(p(':foo')).toBe('parse ":foo": missing protocol scheme');
    expect(p('http://host:port/')).toBe('parse "http://host:port/": invalid port ":port" after host');
    expect(p('http://[::1/')).toBe('parse "http://[::1/": missing \']\' in host');
    expect(p('http://host/\u0001')).toBe('parse "http://host/\\x01": net/url: invalid control character in URL');
    expect(p('http://host/"\t')).toBe('parse "http://host/\\"\\t": net/url: invalid control character in URL');
  });
});
