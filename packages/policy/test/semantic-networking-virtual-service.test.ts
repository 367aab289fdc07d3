/**
 * VirtualService semantic validation, translated from Istio's Go tests
 * (pkg/config/validation/validation_test.go and virtualservice_test.go at 86c9f01fd735).
 * Each table keeps the Go case names; inputs are the YAML/JSON form of the Go literals.
 */
import { describe, expect, it } from 'vitest';
import {
  validateCORSPolicy,
  validateDestination,
  validateHTTPDirectResponse,
  validateHTTPFaultInjectionAbort,
  validateHTTPFaultInjectionDelay,
  validateHTTPRedirect,
  validateHTTPRetry,
  validateHTTPRewrite,
  validateHTTPRoute,
  validateHTTPStatus,
  validateRouteDestinations,
  validateURIRegexRewrite,
} from '../src/validate/semantic/virtual-service-http.js';
import { validateVirtualService } from '../src/validate/semantic/virtual-service.js';
import type { Reporter } from '../src/validate/types.js';
import { collector, expectMessages, expectValidity, expectWellFormed, runValidator, type Collector } from './support/semantic-networking.js';

type Part = (report: Reporter, path: (string | number)[], value: any) => void;

function part(fn: Part, value: unknown, path: (string | number)[] = ['spec', 'x']): Collector {
  const c = collector();
  fn(c, path, value);
  expectWellFormed(c);
  return c;
}

function vs(spec: unknown, meta = {}): Collector {
  const c = runValidator(validateVirtualService, 'VirtualService', spec, meta);
  expectWellFormed(c);
  return c;
}

interface Case {
  name: string;
  in?: any;
  valid: boolean;
  warning?: boolean;
}

describe('TestValidateCORSPolicy', () => {
  const cases: Case[] = [
  {
    name: 'valid',
    in: {
      allowMethods: ['GET', 'POST'],
      allowHeaders: ['header1', 'header2'],
      exposeHeaders: ['header3'],
      maxAge: '2s',
    },
    valid: true,
  },
  {
    name: 'bad method',
    in: {
      allowMethods: ['GET', 'PUTT'],
      allowHeaders: ['header1', 'header2'],
      exposeHeaders: ['header3'],
      maxAge: '2s',
    },
    valid: false,
  },
  {
    name: 'bad header',
    in: {
      allowMethods: ['GET', 'POST'],
      allowHeaders: ['header1', 'header2'],
      exposeHeaders: [''],
      maxAge: '2s',
    },
    valid: false,
  },
  {
    name: 'bad max age',
    in: {
      allowMethods: ['GET', 'POST'],
      allowHeaders: ['header1', 'header2'],
      exposeHeaders: ['header3'],
      maxAge: '2.000000042s',
    },
    valid: false,
  },
  {
    name: 'empty matchType AllowOrigins',
    in: {
      allowOrigins: [{ exact: '' }, { prefix: '' }, { regex: '' }],
      allowMethods: ['GET', 'POST'],
      allowHeaders: ['header1', 'header2'],
      exposeHeaders: ['header3'],
      maxAge: '2s',
    },
    valid: false,
  },
  {
    name: 'non empty matchType AllowOrigins',
    in: {
      allowOrigins: [{ exact: 'exact' }, { prefix: 'prefix' }, { regex: 'regex' }],
      allowMethods: ['GET', 'POST'],
      allowHeaders: ['header1', 'header2'],
      exposeHeaders: ['header3'],
      maxAge: '2s',
    },
    valid: true,
  },
];
  it.each(cases)('$name', (tc) => expectValidity(part(validateCORSPolicy, tc.in), tc.valid));
});

describe('TestValidateHTTPStatus', () => {
  const cases: { in: number; valid: boolean }[] = [
  { in: -100, valid: false },
  { in: 0, valid: false },
  { in: 200, valid: true },
  { in: 600, valid: true },
  { in: 601, valid: false },
];
  it.each(cases)('$in', (tc) => expect(validateHTTPStatus(tc.in) === undefined).toBe(tc.valid));
});

describe('TestValidateHTTPFaultInjectionAbort', () => {
  const cases: Case[] = [
  { name: 'nil', in: null, valid: true },
  { name: 'valid', in: { percentage: { value: 20 }, httpStatus: 200 }, valid: true },
  { name: 'valid default', in: { httpStatus: 200 }, valid: true },
  { name: 'invalid http status', in: { percentage: { value: 20 }, httpStatus: 9000 }, valid: false },
  {
    name: 'invalid low http status',
    in: { percentage: { value: 20 }, httpStatus: 100 },
    valid: false,
  },
  { name: 'valid percentage', in: { percentage: { value: 0.001 }, httpStatus: 200 }, valid: true },
  {
    name: 'invalid fractional percent',
    in: { percentage: { value: -10.0 }, httpStatus: 200 },
    valid: false,
  },
  { name: 'grpc: nil', in: null, valid: true },
  {
    name: 'grpc: valid',
    in: { percentage: { value: 20 }, grpcStatus: 'DEADLINE_EXCEEDED' },
    valid: true,
  },
  { name: 'grpc: valid default percentage', in: { grpcStatus: 'DEADLINE_EXCEEDED' }, valid: true },
  {
    name: 'grpc: invalid status',
    in: { percentage: { value: 20 }, grpcStatus: 'BAD_STATUS' },
    valid: false,
  },
  {
    name: 'grpc: valid percentage',
    in: { percentage: { value: 0.001 }, grpcStatus: 'INTERNAL' },
    valid: true,
  },
  {
    name: 'grpc: invalid fractional percent',
    in: { percentage: { value: -10.0 }, grpcStatus: 'DEADLINE_EXCEEDED' },
    valid: false,
  },
];
  it.each(cases)('$name', (tc) => expectValidity(part((r, p, v) => validateHTTPFaultInjectionAbort(r, p, v, true), tc.in), tc.valid));

  it('warns when the abort has no error type (as validateHTTPFaultInjectionAbort does)', () => {
    const c = part((r, p, v) => validateHTTPFaultInjectionAbort(r, p, v, true), { percentage: { value: 10 } });
    expectMessages(c, '', 'abort configured, but error type not set');
  });

  it('rejects http2Error aborts', () => {
    expectMessages(part((r, p, v) => validateHTTPFaultInjectionAbort(r, p, v, true), { http2Error: 'x' }), 'HTTP/2 abort fault injection not supported yet');
  });
});

describe('TestValidateHTTPFaultInjectionDelay', () => {
  const cases: Case[] = [
  { name: 'nil', in: null, valid: true },
  { name: 'valid fixed', in: { percentage: { value: 20 }, fixedDelay: '3s' }, valid: true },
  { name: 'valid default', in: { fixedDelay: '3s' }, valid: true },
  { name: 'invalid percent', in: { percentage: { value: 101 }, fixedDelay: '3s' }, valid: false },
  {
    name: 'invalid delay',
    in: { percentage: { value: 20 }, fixedDelay: '3.000000042s' },
    valid: false,
  },
  {
    name: 'valid fractional percentage',
    in: { percentage: { value: 0.001 }, fixedDelay: '3s' },
    valid: true,
  },
  {
    name: 'invalid fractional percentage',
    in: { percentage: { value: -10.0 }, fixedDelay: '3s' },
    valid: false,
  },
];
  it.each(cases)('$name', (tc) => expectValidity(part(validateHTTPFaultInjectionDelay, tc.in), tc.valid));

  it('rejects exponentialDelay', () => {
    expectMessages(part(validateHTTPFaultInjectionDelay, { exponentialDelay: '1s' }), 'exponentialDelay not supported yet');
  });
});

describe('TestValidateHTTPRetry', () => {
  const cases: Case[] = [
  {
    name: 'valid',
    in: { attempts: 10, perTryTimeout: '2s', retryOn: '5xx,gateway-error' },
    valid: true,
  },
  { name: 'disable retries', in: { attempts: 0 }, valid: true },
  {
    name: 'invalid, retry policy configured but attempts set to zero',
    in: { attempts: 0, perTryTimeout: '2s', retryOn: '5xx,gateway-error' },
    valid: false,
  },
  { name: 'valid default', in: { attempts: 10 }, valid: true },
  {
    name: 'valid http status retryOn',
    in: { attempts: 10, perTryTimeout: '2s', retryOn: '503,connect-failure' },
    valid: true,
  },
  { name: 'invalid attempts', in: { attempts: -1, perTryTimeout: '2s' }, valid: false },
  { name: 'invalid timeout', in: { attempts: 10, perTryTimeout: '2.000000001s' }, valid: false },
  { name: 'timeout too small', in: { attempts: 10, perTryTimeout: '0.000000999s' }, valid: false },
  { name: 'invalid backoff', in: { attempts: 10, backoff: '0.000000999s' }, valid: false },
  {
    name: 'invalid policy retryOn',
    in: { attempts: 10, perTryTimeout: '2s', retryOn: '5xx,invalid policy' },
    valid: false,
  },
  {
    name: 'invalid http status retryOn',
    in: { attempts: 10, perTryTimeout: '2s', retryOn: '600,connect-failure' },
    valid: false,
  },
  {
    name: 'invalid, retryRemoteLocalities configured but attempts set to zero',
    in: { attempts: 0, retryRemoteLocalities: false },
    valid: false,
  },
];
  it.each(cases)('$name', (tc) => expectValidity(part(validateHTTPRetry, tc.in), tc.valid));

  // Semantics of agent.ValidateHTTPRetry: tokens are split on ',' without trimming; a numeric
  // token must be a status Go's net/http knows.
  it.each([
    ['5xx,reset,connect-failure,refused-stream', true],
    ['cancelled,deadline-exceeded,internal,resource-exhausted,unavailable', true],
    ['reset-before-request,retriable-4xx,retriable-status-codes,retriable-headers,envoy-ratelimited,http3-post-connect-failure', true],
    ['503,429,409,418,425,226', true],
    ['+503', true],
    ['0503', true],
    ['5xx, reset', false],
    ['5xx,', false],
    ['599', false],
    ['306', false],
    ['520', false],
    ['14', false],
    ['Unavailable', false],
  ] as const)('retryOn %j valid=%s', (retryOn, valid) => {
    const c = part(validateHTTPRetry, { attempts: 3, retryOn }, ['spec', 'http', 0, 'retries']);
    expectValidity(c, valid);
    if (!valid) {
      expect(c.errors[0]!.path).toBe('spec.http[0].retries.retryOn');
      expect(c.errors[0]!.message).toMatch(/is not a valid retryOn policy$/);
    }
  });

  it('quotes the offending token as Istio does', () => {
    expectMessages(part(validateHTTPRetry, { attempts: 3, retryOn: '5xx, reset' }), '" reset" is not a valid retryOn policy');
  });

  it('rejects retryRemoteLocalities with attempts 0, but not retryIgnorePreviousHosts', () => {
    expectValidity(part(validateHTTPRetry, { retryRemoteLocalities: true }), false);
    expectValidity(part(validateHTTPRetry, { retryIgnorePreviousHosts: false }), true);
  });
});

describe('TestValidateHTTPRewrite', () => {
  const cases: Case[] = [
  { name: 'nil in', in: null, valid: true },
  {
    name: 'uri and authority',
    in: { uri: '/path/to/resource', authority: 'foobar.org' },
    valid: true,
  },
  { name: 'uri', in: { uri: '/path/to/resource' }, valid: true },
  { name: 'authority', in: { authority: 'foobar.org' }, valid: true },
  {
    name: 'uriRegexRewrite',
    in: { uriRegexRewrite: { match: '^/service/([^/]+)(/.*)$', rewrite: '\\2/instance/\\1' } },
    valid: true,
  },
  {
    name: 'uriRegexRewrite and authority',
    in: {
      authority: 'foobar.org',
      uriRegexRewrite: { match: '^/service/([^/]+)(/.*)$', rewrite: '\\2/instance/\\1' },
    },
    valid: true,
  },
  {
    name: 'uriRegexRewrite and uri',
    in: {
      uri: '/path/to/resource',
      uriRegexRewrite: { match: '^/service/([^/]+)(/.*)$', rewrite: '\\2/instance/\\1' },
    },
    valid: false,
  },
  { name: 'no uri, uriRegexRewrite, or authority', in: {}, valid: false },
];
  it.each(cases)('$name', (tc) => expectValidity(part(validateHTTPRewrite, tc.in), tc.valid));
});

describe('TestValidateUriRegexRewrite', () => {
  const cases: Case[] = [
  { name: 'uriRegexRewrite nil', in: null, valid: true },
  {
    name: 'uriRegexRewrite happy path',
    in: { match: '^/service/([^/]+)(/.*)$', rewrite: '\\2/instance/\\1' },
    valid: true,
  },
  { name: 'uriRegexRewrite missing match', in: { rewrite: '\\2/instance/\\1' }, valid: false },
  { name: 'uriRegexRewrite missing rewrite', in: { match: '^/service/([^/]+)(/.*)$' }, valid: false },
  { name: 'uriRegexRewrite invalid regex patterns', in: { match: '[', rewrite: '[' }, valid: false },
];
  it.each(cases)('$name', (tc) => expectValidity(part(validateURIRegexRewrite, tc.in), tc.valid));

  it('rejects RE2-incompatible patterns (lookahead, backreference) as Envoy would', () => {
    expectMessages(part(validateURIRegexRewrite, { match: '^/(?=api)', rewrite: '/' }), 'Istio uses RE2 style regex-based match');
    expectMessages(part(validateURIRegexRewrite, { match: '^/(a)\\1', rewrite: '/' }), 'Istio uses RE2 style regex-based match');
  });
});

describe('TestValidateHTTPRedirect', () => {
  const cases: { name: string; redirect: any; valid: boolean }[] = [
  { name: 'nil redirect', redirect: null, valid: true },
  { name: 'empty uri and authority', redirect: { uri: '', authority: '' }, valid: false },
  {
    name: 'too small redirect code',
    redirect: { uri: 't', authority: '', redirectCode: 299 },
    valid: false,
  },
  {
    name: 'too large redirect code',
    redirect: { uri: 't', authority: '', redirectCode: 400 },
    valid: false,
  },
  { name: 'empty authority', redirect: { uri: 't', authority: '' }, valid: true },
  { name: 'empty uri', redirect: { uri: '', authority: 't' }, valid: true },
  {
    name: 'empty redirect code',
    redirect: { uri: 't', authority: 't', redirectCode: 0 },
    valid: true,
  },
  { name: 'normal redirect', redirect: { uri: 't', authority: 't', redirectCode: 308 }, valid: true },
  { name: 'prefix_rewrite alone', redirect: { prefixRewrite: '/bar' }, valid: true },
  {
    name: 'prefix_rewrite with authority',
    redirect: { authority: 'foo.example.com', prefixRewrite: '/' },
    valid: true,
  },
  {
    name: 'uri and prefix_rewrite mutually exclusive',
    redirect: { uri: '/old', prefixRewrite: '/new' },
    valid: false,
  },
];
  it.each(cases)('$name', (tc) => expectValidity(part((r, p, v) => validateHTTPRedirect(r, p, v, null), tc.redirect), tc.valid));

  it.each([
    ['scheme ftp', { scheme: 'ftp' }, 'invalid redirect scheme, must be "http" or "https"'],
    ['port out of range', { port: 70000 }, 'port number 70000 must be in the range 1..65535'],
    ['derivePort alone', { derivePort: 'FROM_REQUEST_PORT' }, ''],
    ['derivePort zero value counts as set', { derivePort: 'FROM_PROTOCOL_DEFAULT' }, ''],
  ])('%s', (_n, redirect, err) => expectMessages(part((r, p, v) => validateHTTPRedirect(r, p, v, null), redirect), err));
});

describe('TestValidateHTTPDirectResponse', () => {
  const cases: { name: string; directResponse: any; valid: boolean; warning?: boolean }[] = [
  { name: 'nil redirect', directResponse: null, valid: true },
  { name: 'status 200', directResponse: { status: 200 }, valid: true },
  { name: 'status 100', directResponse: { status: 199 }, valid: false },
  { name: 'status 600', directResponse: { status: 601 }, valid: false },
  {
    name: 'with string body',
    directResponse: { status: 200, body: { string: 'hello' } },
    valid: true,
  },
  {
    name: 'with string body over 100kb',
    directResponse: { status: 200, body: { string: 'a'.repeat(103424) } },
    valid: true,
    warning: true,
  },
  {
    name: 'with string body over 1mb',
    directResponse: { status: 200, body: { string: 'a'.repeat(2097152) } },
    valid: false,
  },
  {
    name: 'with bytes body',
    directResponse: { status: 200, body: { bytes: 'aGVsbG8=' } },
    valid: true,
  },
  {
    name: 'with bytes body over 100kb',
    directResponse: { status: 200, body: { bytes: Buffer.from('a'.repeat(102401)).toString('base64') } },
    valid: true,
    warning: true,
  },
  {
    name: 'with bytes body over 1mb',
    directResponse: { status: 200, body: { bytes: Buffer.from('a'.repeat(1048577)).toString('base64') } },
    valid: false,
  },
];
  it.each(cases)('$name', (tc) => expectValidity(part(validateHTTPDirectResponse, tc.directResponse), tc.valid, tc.warning ?? false));
});

describe('TestValidateDestination', () => {
  const cases: { name: string; destination: any; valid: boolean }[] = [
  { name: 'empty', destination: {}, valid: false },
  { name: 'simple', destination: { host: 'foo.bar' }, valid: true },
  {
    name: 'full',
    destination: { host: 'foo.bar', subset: 'shiny', port: { number: 5000 } },
    valid: true,
  },
  {
    name: 'unnumbered-selector',
    destination: { host: 'foo.bar', subset: 'shiny', port: {} },
    valid: false,
  },
];
  it.each(cases)('$name', (tc) => expectValidity(part(validateDestination, tc.destination), tc.valid));

  it('rejects `*` as a destination host', () => {
    expectMessages(part(validateDestination, { host: '*' }), 'invalid destination host *');
  });
});

describe('TestValidateHTTPRoute', () => {
  const cases: { name: string; route: any; valid: boolean }[] = [
  { name: 'empty', route: {}, valid: false },
  { name: 'simple', route: { route: [{ destination: { host: 'foo.baz' } }] }, valid: true },
  { name: 'no destination', route: { route: [{ destination: null }] }, valid: false },
  {
    name: 'weighted',
    route: {
      route: [
        { destination: { host: 'foo.baz.south' }, weight: 25 },
        { destination: { host: 'foo.baz.east' }, weight: 75 },
      ],
    },
    valid: true,
  },
  {
    name: 'total weight > 100',
    route: {
      route: [
        { destination: { host: 'foo.baz.south' }, weight: 550 },
        { destination: { host: 'foo.baz.east' }, weight: 500 },
      ],
    },
    valid: true,
  },
  {
    name: 'total weight < 100',
    route: {
      route: [
        { destination: { host: 'foo.baz.south' }, weight: 49 },
        { destination: { host: 'foo.baz.east' }, weight: 50 },
      ],
    },
    valid: true,
  },
  {
    name: 'simple redirect',
    route: { redirect: { uri: '/lerp', authority: 'foo.biz' } },
    valid: true,
  },
  {
    name: 'prefix_rewrite redirect with prefix URI match',
    route: { match: [{ uri: { prefix: '/foo' } }], redirect: { prefixRewrite: '/bar' } },
    valid: true,
  },
  {
    name: 'prefix_rewrite redirect with exact URI match is invalid',
    route: { match: [{ uri: { exact: '/foo' } }], redirect: { prefixRewrite: '/bar' } },
    valid: false,
  },
  {
    name: 'prefix_rewrite redirect with regex URI match is invalid',
    route: { match: [{ uri: { regex: '/foo.*' } }], redirect: { prefixRewrite: '/bar' } },
    valid: false,
  },
  {
    name: 'prefix_rewrite redirect with no URI match (wildcard) is valid',
    route: { match: [{ headers: { 'x-foo': { exact: 'bar' } } }], redirect: { prefixRewrite: '/bar' } },
    valid: true,
  },
  {
    name: 'conflicting redirect and route',
    route: { route: [{ destination: { host: 'foo.baz' } }], redirect: { uri: '/lerp', authority: 'foo.biz' } },
    valid: false,
  },
  {
    name: 'request response headers',
    route: { route: [{ destination: { host: 'foo.baz' } }] },
    valid: true,
  },
  {
    name: 'valid headers',
    route: {
      route: [
        {
          destination: { host: 'foo.baz' },
          headers: {
            request: { add: { name: '' }, set: { name: '' }, remove: ['name'] },
            response: { add: { name: '' }, set: { name: '' }, remove: ['name'] },
          },
        },
      ],
    },
    valid: true,
  },
  {
    name: 'empty header name - request add',
    route: { route: [{ destination: { host: 'foo.baz' }, headers: { request: { add: { '': 'value' } } } }] },
    valid: false,
  },
  {
    name: 'empty header name - request set',
    route: { route: [{ destination: { host: 'foo.baz' }, headers: { request: { set: { '': 'value' } } } }] },
    valid: false,
  },
  {
    name: 'empty header name - request remove',
    route: { route: [{ destination: { host: 'foo.baz' }, headers: { request: { remove: [''] } } }] },
    valid: false,
  },
  {
    name: 'empty header name - response add',
    route: { route: [{ destination: { host: 'foo.baz' }, headers: { response: { add: { '': 'value' } } } }] },
    valid: false,
  },
  {
    name: 'empty header name - response set',
    route: { route: [{ destination: { host: 'foo.baz' }, headers: { response: { set: { '': 'value' } } } }] },
    valid: false,
  },
  {
    name: 'empty header name - response remove',
    route: { route: [{ destination: { host: 'foo.baz' }, headers: { response: { remove: [''] } } }] },
    valid: false,
  },
  {
    name: 'envoy escaped % set',
    route: {
      route: [{ destination: { host: 'foo.baz' }, headers: { response: { set: { 'i-love-istio': '100%%' } } } }],
    },
    valid: true,
  },
  {
    name: 'envoy variable set',
    route: {
      route: [{ destination: { host: 'foo.baz' }, headers: { response: { set: { name: '%HOSTNAME%' } } } }],
    },
    valid: true,
  },
  {
    name: 'envoy unescaped % set',
    route: {
      route: [{ destination: { host: 'foo.baz' }, headers: { response: { set: { name: 'abcd%oijasodifj' } } } }],
    },
    valid: false,
  },
  {
    name: 'envoy escaped % add',
    route: {
      route: [
        {
          destination: { host: 'foo.baz' },
          headers: { response: { add: { 'i-love-istio': '100%% and more' } } },
        },
      ],
    },
    valid: true,
  },
  {
    name: 'envoy variable add',
    route: {
      route: [
        { destination: { host: 'foo.baz' }, headers: { response: { add: { name: 'hello %HOSTNAME%' } } } },
      ],
    },
    valid: true,
  },
  {
    name: 'envoy unescaped % add',
    route: {
      route: [{ destination: { host: 'foo.baz' }, headers: { response: { add: { name: 'abcd%oijasodifj' } } } }],
    },
    valid: false,
  },
  {
    name: 'null header match',
    route: { route: [{ destination: { host: 'foo.bar' } }], match: [{ headers: { header: null } }] },
    valid: false,
  },
  {
    name: 'empty prefix header match',
    route: {
      route: [{ destination: { host: 'foo.bar' } }],
      match: [{ headers: { emptyprefix: { prefix: '' } } }],
    },
    valid: false,
  },
  {
    name: 'nil match',
    route: { route: [{ destination: { host: 'foo.bar' } }], match: null },
    valid: true,
  },
  {
    name: 'match with nil element',
    route: { route: [{ destination: { host: 'foo.bar' } }], match: [null] },
    valid: true,
  },
  {
    name: 'invalid mirror percent',
    route: { mirrorPercent: 101, route: [{ destination: { host: 'foo.bar' } }], match: [null] },
    valid: false,
  },
  {
    name: 'invalid mirror percentage',
    route: { mirrorPercentage: { value: 101 }, route: [{ destination: { host: 'foo.bar' } }], match: [null] },
    valid: false,
  },
  {
    name: 'valid mirror percentage',
    route: { mirrorPercentage: { value: 1 }, route: [{ destination: { host: 'foo.bar' } }], match: [null] },
    valid: true,
  },
  {
    name: 'negative mirror percentage',
    route: { mirrorPercentage: { value: -1 }, route: [{ destination: { host: 'foo.bar' } }], match: [null] },
    valid: false,
  },
  {
    name: 'mirrors without destination',
    route: { mirrors: [{ destination: null }], route: [{ destination: { host: 'foo.bar' } }], match: [null] },
    valid: false,
  },
  {
    name: 'mirrors invalid mirror percentage',
    route: {
      mirrors: [
        { destination: { host: 'foo.baz' } },
        { destination: { host: 'foo.baz' }, percentage: { value: 101 } },
      ],
      route: [{ destination: { host: 'foo.bar' } }],
      match: [null],
    },
    valid: false,
  },
  {
    name: 'mirrors valid mirror percentage',
    route: {
      mirrors: [
        { destination: { host: 'foo.baz' }, percentage: { value: 1 } },
        { destination: { host: 'foo.baz' }, percentage: { value: 50 } },
      ],
      route: [{ destination: { host: 'foo.bar' } }],
      match: [null],
    },
    valid: true,
  },
  {
    name: 'mirrors negative mirror percentage',
    route: {
      mirrors: [{ destination: { host: 'foo.baz' }, percentage: { value: -1 } }],
      route: [{ destination: { host: 'foo.bar' } }],
      match: [null],
    },
    valid: false,
  },
  {
    name: 'conflicting mirror and mirrors',
    route: {
      mirror: { host: 'foo.baz' },
      mirrors: [{ destination: { host: 'foo.bar' } }],
      route: [{ destination: { host: 'foo.baz' } }],
    },
    valid: false,
  },
];
  it.each(cases)('$name', (tc) => expectValidity(part((r, p, v) => validateHTTPRoute(r, p, v, false, false), tc.route, ['spec', 'http', 0]), tc.valid));
});

describe('TestValidateRouteDestination', () => {
  const cases: { name: string; routes: any; valid: boolean }[] = [
  { name: 'simple', routes: [{ destination: { host: 'foo.baz' } }], valid: true },
  { name: 'wildcard dash', routes: [{ destination: { host: '*-foo.baz' } }], valid: true },
  { name: 'wildcard prefix', routes: [{ destination: { host: '*foo.baz' } }], valid: true },
  { name: 'wildcard', routes: [{ destination: { host: '*' } }], valid: false },
  { name: 'bad wildcard', routes: [{ destination: { host: 'foo.*' } }], valid: false },
  { name: 'bad fqdn', routes: [{ destination: { host: 'default/baz' } }], valid: false },
  { name: 'no destination', routes: [{ destination: null }], valid: false },
  {
    name: 'weighted',
    routes: [
      { destination: { host: 'foo.baz.south' }, weight: 25 },
      { destination: { host: 'foo.baz.east' }, weight: 75 },
    ],
    valid: true,
  },
  {
    name: 'weight < 0',
    routes: [
      { destination: { host: 'foo.baz.south' }, weight: 5 },
      { destination: { host: 'foo.baz.east' }, weight: -1 },
    ],
    valid: false,
  },
  {
    name: 'total weight > 100',
    routes: [
      { destination: { host: 'foo.baz.south' }, weight: 550 },
      { destination: { host: 'foo.baz.east' }, weight: 500 },
    ],
    valid: true,
  },
  {
    name: 'total weight < 100',
    routes: [
      { destination: { host: 'foo.baz.south' }, weight: 49 },
      { destination: { host: 'foo.baz.east' }, weight: 50 },
    ],
    valid: true,
  },
  {
    name: 'total weight = 100',
    routes: [
      { destination: { host: 'foo.baz.south' }, weight: 100 },
      { destination: { host: 'foo.baz.east' }, weight: 0 },
    ],
    valid: true,
  },
  {
    name: 'weight = 0',
    routes: [{ destination: { host: 'foo.baz.south' }, weight: 0 }],
    valid: true,
  },
  {
    name: 'total weight = 0 with multi RouteDestination',
    routes: [
      { destination: { host: 'foo.baz.south' }, weight: 0 },
      { destination: { host: 'foo.baz.east' }, weight: 0 },
    ],
    valid: false,
  },
];
  it.each(cases)('$name', (tc) => expectValidity(part((r, p, v) => validateRouteDestinations(r, p, v, false, false), tc.routes), tc.valid));

  it('sums weights as an int32, as Istio does', () => {
    const routes = [
      { destination: { host: 'a' }, weight: 2147483647 },
      { destination: { host: 'b' }, weight: 2147483647 },
      { destination: { host: 'c' }, weight: 2 },
    ];
    expectMessages(part((r, p, v) => validateRouteDestinations(r, p, v, false, false), routes), 'total destination weight = 0');
  });
});

describe('TestValidateVirtualService', () => {
  const cases: Case[] = [
  {
    name: 'simple',
    in: { hosts: ['foo.bar'], http: [{ route: [{ destination: { host: 'foo.baz' } }] }] },
    valid: true,
  },
  {
    name: 'allow sni based domains',
    in: {
      hosts: ['outbound_.15010_._.istiod.istio-system.svc.cluster.local'],
      gateways: ['ns1/gateway'],
      tls: [
        {
          match: [{ sniHosts: ['outbound_.15010_._.istiod.istio-system.svc.cluster.local'] }],
          route: [{ destination: { host: 'istio.istio-system.svc.cluster.local' } }],
        },
      ],
    },
    valid: true,
  },
  {
    name: 'duplicate hosts',
    in: { hosts: ['*.foo.bar', '*.bar'], http: [{ route: [{ destination: { host: 'foo.baz' } }] }] },
    valid: false,
  },
  {
    name: 'with no destination',
    in: { hosts: ['*.foo.bar', '*.bar'], http: [{ route: [{}] }] },
    valid: false,
  },
  {
    name: 'destination with out hosts',
    in: { hosts: ['*.foo.bar', '*.bar'], http: [{ route: [{ destination: {} }] }] },
    valid: false,
  },
  {
    name: 'delegate with no hosts',
    in: { hosts: null, http: [{ route: [{ destination: { host: 'foo.baz' } }] }] },
    valid: true,
  },
  {
    name: 'bad host',
    in: { hosts: ['foo.ba!r'], http: [{ route: [{ destination: { host: 'foo.baz' } }] }] },
    valid: false,
  },
  { name: 'no tcp or http routing', in: { hosts: ['foo.bar'] }, valid: false },
  {
    name: 'bad gateway',
    in: {
      hosts: ['foo.bar'],
      gateways: ['b@dgateway'],
      http: [{ route: [{ destination: { host: 'foo.baz' } }] }],
    },
    valid: false,
  },
  {
    name: 'FQDN for gateway',
    in: {
      hosts: ['foo.bar'],
      gateways: ['gateway.example.com'],
      http: [{ route: [{ destination: { host: 'foo.baz' } }] }],
    },
    valid: true,
    warning: true,
  },
  {
    name: 'namespace/name for gateway',
    in: {
      hosts: ['foo.bar'],
      gateways: ['ns1/gateway'],
      http: [{ route: [{ destination: { host: 'foo.baz' } }] }],
    },
    valid: true,
  },
  {
    name: 'namespace/* for gateway',
    in: {
      hosts: ['foo.bar'],
      gateways: ['ns1/*'],
      http: [{ route: [{ destination: { host: 'foo.baz' } }] }],
    },
    valid: false,
  },
  {
    name: '*/name for gateway',
    in: {
      hosts: ['foo.bar'],
      gateways: ['*/gateway'],
      http: [{ route: [{ destination: { host: 'foo.baz' } }] }],
    },
    valid: false,
  },
  {
    name: 'wildcard for mesh gateway',
    in: { hosts: ['*'], http: [{ route: [{ destination: { host: 'foo.baz' } }] }] },
    valid: false,
  },
  {
    name: 'wildcard for non-mesh gateway',
    in: {
      hosts: ['*'],
      gateways: ['somegateway'],
      http: [{ route: [{ destination: { host: 'foo.baz' } }] }],
    },
    valid: true,
  },
  {
    name: 'missing tcp route',
    in: { hosts: ['foo.bar'], tcp: [{ match: [{ port: 999 }] }] },
    valid: false,
  },
  {
    name: 'missing tls route',
    in: { hosts: ['foo.bar'], tls: [{ match: [{ port: 999, sniHosts: ['foo.bar'] }] }] },
    valid: false,
  },
  {
    name: 'deprecated mirror',
    in: {
      hosts: ['foo.bar'],
      gateways: ['ns1/gateway'],
      http: [{ mirrorPercent: 5, route: [{ destination: { host: 'foo.baz' } }] }],
    },
    valid: true,
    warning: true,
  },
  {
    name: 'set authority',
    in: {
      hosts: ['foo.bar'],
      http: [
        {
          headers: { request: { set: { ':authority': 'foo' } } },
          route: [{ destination: { host: 'foo.baz' } }],
        },
      ],
    },
    valid: true,
    warning: false,
  },
  {
    name: 'set authority in destination',
    in: {
      hosts: ['foo.bar'],
      http: [
        {
          route: [{ destination: { host: 'foo.baz' }, headers: { request: { set: { ':authority': 'foo' } } } }],
        },
      ],
    },
    valid: true,
    warning: false,
  },
  {
    name: 'set authority in rewrite and header',
    in: {
      hosts: ['foo.bar'],
      http: [
        {
          headers: { request: { set: { ':authority': 'foo' } } },
          rewrite: { authority: 'bar' },
          route: [{ destination: { host: 'foo.baz' } }],
        },
      ],
    },
    valid: false,
    warning: false,
  },
  {
    name: 'non-method-get',
    in: {
      hosts: ['foo.bar'],
      http: [
        {
          route: [{ destination: { host: 'foo.baz' } }],
          match: [
            { uri: { prefix: '/api/v1/product' } },
            { uri: { prefix: '/api/v1/products' }, method: { exact: 'GET' } },
          ],
        },
      ],
    },
    valid: true,
    warning: true,
  },
  {
    name: 'uri-with-prefix-exact',
    in: {
      hosts: ['foo.bar'],
      http: [
        {
          route: [{ destination: { host: 'foo.baz' } }],
          match: [{ uri: { prefix: '/' } }, { uri: { exact: '/' }, method: { exact: 'GET' } }],
        },
      ],
    },
    valid: true,
    warning: false,
  },
  {
    name: 'jwt claim route without gateway',
    in: {
      hosts: ['foo.bar'],
      gateways: ['mesh'],
      http: [
        {
          route: [{ destination: { host: 'foo.baz' } }],
          match: [{ uri: { prefix: '/' }, headers: { '@request.auth.claims.foo': { exact: 'bar' } } }],
        },
      ],
    },
    valid: false,
    warning: false,
  },
  {
    name: 'ip address as sni host',
    in: {
      hosts: ['foo.bar'],
      tls: [{ route: [{ destination: { host: 'foo.baz' } }], match: [{ port: 999, sniHosts: ['1.1.1.1'] }] }],
    },
    valid: true,
    warning: true,
  },
  {
    name: 'invalid wildcard as sni host',
    in: {
      hosts: ['foo.bar'],
      tls: [
        { route: [{ destination: { host: 'foo.baz' } }], match: [{ port: 999, sniHosts: ['foo.*.com'] }] },
      ],
    },
    valid: false,
    warning: false,
  },
];
  it.each(cases)('$name', (tc) => expectValidity(vs(tc.in), tc.valid, tc.warning ?? false));
});

describe('TestValidateChainingVirtualService', () => {
  const cases: Case[] = [
  {
    name: 'root simple',
    in: {
      hosts: ['foo.bar'],
      gateways: ['test-gateway'],
      http: [{ delegate: { name: 'test', namespace: 'test' } }],
    },
    valid: true,
  },
  {
    name: 'root applies to sidecar with delegate',
    in: { hosts: ['foo.bar'], http: [{ delegate: { name: 'test', namespace: 'test' } }] },
    valid: true,
  },
  {
    name: 'root with delegate and destination in one route',
    in: {
      hosts: ['foo.bar'],
      http: [{ delegate: { name: 'test', namespace: 'test' }, route: [{ destination: { host: 'foo.baz' } }] }],
    },
    valid: false,
  },
  { name: 'delegate with no destination', in: { hosts: [], http: [{}] }, valid: false },
  {
    name: 'delegate with delegate',
    in: { hosts: [], http: [{ delegate: { name: 'test', namespace: 'test' } }] },
    valid: false,
  },
  {
    name: 'delegate with TCP route',
    in: { hosts: [], tcp: [{ route: [{ destination: { host: 'foo.baz' } }] }] },
    valid: false,
  },
  {
    name: 'delegate with gateway',
    in: { hosts: [], gateways: ['test'], http: [{ route: [{ destination: { host: 'foo.baz' } }] }] },
    valid: false,
  },
  {
    name: 'delegate with sourceNamespace',
    in: {
      hosts: [],
      http: [{ match: [{ sourceNamespace: 'test' }], route: [{ destination: { host: 'foo.baz' } }] }],
    },
    valid: true,
  },
];
  it.each(cases)('$name', (tc) => expectValidity(vs(tc.in), tc.valid));
});

describe('TestValidateRootHTTPRoute', () => {
  const cases: { name: string; route: any; valid: boolean }[] = [
  { name: 'simple', route: { delegate: { name: 'test', namespace: 'test' } }, valid: true },
  {
    name: 'route and delegate conflict',
    route: { route: [{ destination: { host: 'foo.baz' } }], delegate: { name: 'test', namespace: 'test' } },
    valid: false,
  },
  {
    name: 'redirect and delegate conflict',
    route: { redirect: { uri: '/lerp', authority: 'foo.biz' }, delegate: { name: 'test', namespace: 'test' } },
    valid: false,
  },
  {
    name: 'null header match',
    route: { delegate: { name: 'test', namespace: 'test' }, match: [{ headers: { header: null } }] },
    valid: false,
  },
  {
    name: 'prefix header match',
    route: {
      delegate: { name: 'test', namespace: 'test' },
      match: [{ headers: { header: { prefix: 'test' } } }],
    },
    valid: true,
  },
  {
    name: 'empty prefix header match (delegate)',
    route: { delegate: { name: 'test', namespace: 'test' }, match: [{ headers: { header: { prefix: '' } } }] },
    valid: false,
  },
  {
    name: 'exact header match',
    route: {
      delegate: { name: 'test', namespace: 'test' },
      match: [{ headers: { header: { exact: 'test' } } }],
    },
    valid: true,
  },
  {
    name: 'regex header match',
    route: {
      delegate: { name: 'test', namespace: 'test' },
      match: [{ headers: { header: { regex: 'test' } } }],
    },
    valid: true,
  },
  {
    name: 'exact without headers match',
    route: {
      redirect: { uri: '/', authority: 'foo.biz' },
      match: [{ withoutHeaders: { header: { exact: 'test' } } }],
    },
    valid: true,
  },
  {
    name: 'regex without headers match',
    route: {
      redirect: { uri: '/', authority: 'foo.biz' },
      match: [{ withoutHeaders: { header: { regex: 'test' } } }],
    },
    valid: true,
  },
  {
    name: 'regex without headers match ?',
    route: {
      redirect: { uri: '/', authority: 'foo.biz' },
      match: [{ withoutHeaders: { header: { regex: '?' } } }],
    },
    valid: false,
  },
  {
    name: 'regex without headers match *',
    route: {
      redirect: { uri: '/', authority: 'foo.biz' },
      match: [{ withoutHeaders: { header: { regex: '*' } } }],
    },
    valid: true,
  },
  {
    name: 'regex uri match',
    route: { delegate: { name: 'test', namespace: 'test' }, match: [{ uri: { regex: 'test' } }] },
    valid: true,
  },
  {
    name: 'prefix uri match',
    route: { delegate: { name: 'test', namespace: 'test' }, match: [{ uri: { prefix: 'test' } }] },
    valid: true,
  },
  {
    name: 'exact uri match',
    route: { delegate: { name: 'test', namespace: 'test' }, match: [{ uri: { exact: 'test' } }] },
    valid: true,
  },
  {
    name: 'prefix queryParams match',
    route: {
      delegate: { name: 'test', namespace: 'test' },
      match: [{ queryParams: { q: { prefix: 'test' } } }],
    },
    valid: true,
  },
  {
    name: 'exact queryParams match',
    route: {
      delegate: { name: 'test', namespace: 'test' },
      match: [{ queryParams: { q: { exact: 'test' } } }],
    },
    valid: true,
  },
  {
    name: 'regex queryParams match',
    route: { delegate: { name: 'test', namespace: 'test' }, match: [{ headers: { q: { regex: 'test' } } }] },
    valid: true,
  },
  {
    name: 'empty prefix match in method',
    route: { match: [{ method: { prefix: '' } }], redirect: { uri: '/', authority: 'foo.biz' } },
    valid: false,
  },
  {
    name: 'empty regex match in method',
    route: { match: [{ method: { regex: '' } }], redirect: { uri: '/', authority: 'foo.biz' } },
    valid: false,
  },
  {
    name: 'empty prefix match in uri',
    route: { match: [{ uri: { prefix: '' } }], redirect: { uri: '/', authority: 'foo.biz' } },
    valid: true,
  },
  {
    name: 'empty regex match in uri',
    route: { match: [{ uri: { regex: '' } }], redirect: { uri: '/', authority: 'foo.biz' } },
    valid: false,
  },
  {
    name: 'empty regex match in query',
    route: { match: [{ queryParams: { q: { regex: '' } } }], redirect: { uri: '/', authority: 'foo.biz' } },
    valid: false,
  },
  {
    name: 'empty regex match in scheme',
    route: { match: [{ scheme: { regex: '' } }], redirect: { uri: '/', authority: 'foo.biz' } },
    valid: false,
  },
  {
    name: 'empty prefix match in scheme',
    route: { match: [{ scheme: { prefix: '' } }], redirect: { uri: '/', authority: 'foo.biz' } },
    valid: false,
  },
  {
    name: 'empty prefix header match',
    route: { match: [{ headers: { header: { prefix: '' } } }] },
    valid: false,
  },
];
  it.each(cases)('$name', (tc) => expectValidity(part((r, p, v) => validateHTTPRoute(r, p, v, false, false), tc.route, ['spec', 'http', 0]), tc.valid));
});

describe('TestValidateDelegateHTTPRoute', () => {
  const cases: { name: string; route: any; valid: boolean }[] = [
  { name: 'empty', route: {}, valid: false },
  { name: 'simple', route: { route: [{ destination: { host: 'foo.baz' } }] }, valid: true },
  { name: 'no destination', route: { route: [{ destination: null }] }, valid: false },
  {
    name: 'weighted',
    route: {
      route: [
        { destination: { host: 'foo.baz.south' }, weight: 25 },
        { destination: { host: 'foo.baz.east' }, weight: 75 },
      ],
    },
    valid: true,
  },
  {
    name: 'total weight > 100',
    route: {
      route: [
        { destination: { host: 'foo.baz.south' }, weight: 55 },
        { destination: { host: 'foo.baz.east' }, weight: 50 },
      ],
    },
    valid: true,
  },
  {
    name: 'total weight < 100',
    route: {
      route: [
        { destination: { host: 'foo.baz.south' }, weight: 49 },
        { destination: { host: 'foo.baz.east' }, weight: 50 },
      ],
    },
    valid: true,
  },
  {
    name: 'simple redirect',
    route: { redirect: { uri: '/lerp', authority: 'foo.biz' } },
    valid: true,
  },
  {
    name: 'conflicting redirect and route',
    route: { route: [{ destination: { host: 'foo.baz' } }], redirect: { uri: '/lerp', authority: 'foo.biz' } },
    valid: false,
  },
  {
    name: 'request response headers',
    route: { route: [{ destination: { host: 'foo.baz' } }] },
    valid: true,
  },
  {
    name: 'valid headers',
    route: {
      route: [
        {
          destination: { host: 'foo.baz' },
          headers: {
            request: { add: { name: '' }, set: { name: '' }, remove: ['name'] },
            response: { add: { name: '' }, set: { name: '' }, remove: ['name'] },
          },
        },
      ],
    },
    valid: true,
  },
  {
    name: 'empty header name - request add',
    route: { route: [{ destination: { host: 'foo.baz' }, headers: { request: { add: { '': 'value' } } } }] },
    valid: false,
  },
  {
    name: 'empty header name - request set',
    route: { route: [{ destination: { host: 'foo.baz' }, headers: { request: { set: { '': 'value' } } } }] },
    valid: false,
  },
  {
    name: 'empty header name - request remove',
    route: { route: [{ destination: { host: 'foo.baz' }, headers: { request: { remove: [''] } } }] },
    valid: false,
  },
  {
    name: 'empty header name - response add',
    route: { route: [{ destination: { host: 'foo.baz' }, headers: { response: { add: { '': 'value' } } } }] },
    valid: false,
  },
  {
    name: 'empty header name - response set',
    route: { route: [{ destination: { host: 'foo.baz' }, headers: { response: { set: { '': 'value' } } } }] },
    valid: false,
  },
  {
    name: 'empty header name - response remove',
    route: { route: [{ destination: { host: 'foo.baz' }, headers: { response: { remove: [''] } } }] },
    valid: false,
  },
  {
    name: 'null header match',
    route: { route: [{ destination: { host: 'foo.bar' } }], match: [{ headers: { header: null } }] },
    valid: false,
  },
  {
    name: 'nil match',
    route: { route: [{ destination: { host: 'foo.bar' } }], match: null },
    valid: true,
  },
  {
    name: 'match with nil element',
    route: { route: [{ destination: { host: 'foo.bar' } }], match: [null] },
    valid: true,
  },
  {
    name: 'invalid mirror percent',
    route: { mirrorPercent: 101, route: [{ destination: { host: 'foo.bar' } }], match: [null] },
    valid: false,
  },
  {
    name: 'invalid mirror percentage',
    route: { mirrorPercentage: { value: 101 }, route: [{ destination: { host: 'foo.bar' } }], match: [null] },
    valid: false,
  },
  {
    name: 'valid mirror percentage',
    route: { mirrorPercentage: { value: 1 }, route: [{ destination: { host: 'foo.bar' } }], match: [null] },
    valid: true,
  },
  {
    name: 'negative mirror percentage',
    route: { mirrorPercentage: { value: -1 }, route: [{ destination: { host: 'foo.bar' } }], match: [null] },
    valid: false,
  },
  {
    name: 'delegate route with delegate',
    route: { delegate: { name: 'test', namespace: 'test' } },
    valid: false,
  },
];
  it.each(cases)('$name', (tc) => expectValidity(part((r, p, v) => validateHTTPRoute(r, p, v, true, false), tc.route, ['spec', 'http', 0]), tc.valid));
});

describe('VirtualService: paths, wording and Istio semantics', () => {
  const route = [{ destination: { host: 'reviews' } }];
  const find = (c: Collector, path: string) => [...c.errors, ...c.warnings].filter((f) => f.path === path).map((f) => f.message);

  it('reports a negative weight at its field with the Go wording', () => {
    const c = vs({ hosts: ['reviews'], http: [{ route: [{ destination: { host: 'a' }, weight: 10 }, { destination: { host: 'b' }, weight: -1 }] }] });
    expect(find(c, 'spec.http[0].route[1].weight')).toEqual(['weight -1 < 0']);
    expect(c.errors[0]!.fix).toMatch(/non-negative/);
  });

  it('accepts a single destination without weight, rejects several destinations summing to 0', () => {
    expectValidity(vs({ hosts: ['reviews'], http: [{ route: [{ destination: { host: 'a' } }] }] }), true);
    const c = vs({ hosts: ['reviews'], http: [{ route: [{ destination: { host: 'a' } }, { destination: { host: 'b' }, weight: 0 }] }] });
    expect(find(c, 'spec.http[0].route')).toEqual(['total destination weight = 0']);
  });

  it('allows JWT claim matches only on gateways', () => {
    const match = [{ headers: { '@request.auth.claims.group': { exact: 'admin' } }, withoutHeaders: { '@request.auth.claims[sub]': {} } }];
    const mesh = vs({ hosts: ['reviews'], http: [{ match, route }] });
    expect(find(mesh, 'spec.http[0].match[0].headers["@request.auth.claims.group"]')).toEqual([
      'JWT claim based routing (key: @request.auth.claims.group) is only supported for gateway, found no gateways: []',
    ]);
    expect(find(mesh, 'spec.http[0].match[0].withoutHeaders["@request.auth.claims[sub]"]')).toHaveLength(1);
    expectValidity(vs({ hosts: ['reviews.example.com'], gateways: ['istio-system/ingress'], http: [{ match, route }] }), true, false);
    // Listing `mesh` makes the VirtualService apply to sidecars too.
    expectMessages(vs({ hosts: ['reviews.example.com'], gateways: ['istio-system/ingress', 'mesh'], http: [{ match, route }] }), 'found no gateways: [istio-system/ingress mesh]');
  });

  it('rejects `hosts: ["*"]` for the mesh but not for a gateway', () => {
    expect(find(vs({ hosts: ['*'], http: [{ route }] }), 'spec.hosts[0]')).toEqual(['wildcard host * is not allowed for virtual services bound to the mesh gateway']);
    expect(find(vs({ hosts: ['*'], gateways: ['gw', 'mesh'], http: [{ route }] }), 'spec.hosts[0]')).toHaveLength(1);
    expectValidity(vs({ hosts: ['*'], gateways: ['istio-system/gw'], http: [{ route }] }), true);
  });

  it('reports duplicate and overlapping hosts at the later host', () => {
    expect(find(vs({ hosts: ['a.example.com', '*.example.com'], http: [{ route }] }), 'spec.hosts[1]')).toEqual(['duplicate hosts in virtual service: a.example.com & *.example.com']);
  });

  it('validates RE2 regexes in matches as Envoy would', () => {
    const c = vs({ hosts: ['reviews'], http: [{ match: [{ uri: { regex: '/api/(?!internal).*' } }], route }] });
    expect(c.errors).toHaveLength(1);
    expect(c.errors[0]!.path).toBe('spec.http[0].match[0].uri.regex');
    expect(c.errors[0]!.message).toMatch(/^"uri": .*; Istio uses RE2 style regex-based match \(https:\/\/github.com\/google\/re2\/wiki\/Syntax\)$/);
    expectMessages(vs({ hosts: ['reviews'], http: [{ match: [{ headers: { 'x-a': { regex: '(a)\\1' } } }], route }] }), '"headers": ');
    expectMessages(vs({ hosts: ['reviews'], http: [{ match: [{ uri: { regex: 'a'.repeat(1025) } }], route }] }), '"uri": regex is too large, max length allowed is 1024');
    expectValidity(vs({ hosts: ['reviews'], http: [{ match: [{ uri: { regex: '/v[0-9]+/.*' }, headers: { 'x-a': { regex: '(?i)yes|no' } } }], route }] }), true);
  });

  it('treats `regex: "*"` as presence in withoutHeaders only', () => {
    expectValidity(vs({ hosts: ['reviews'], http: [{ match: [{ withoutHeaders: { 'x-a': { regex: '*' } } }], route }] }), true);
    expectMessages(vs({ hosts: ['reviews'], http: [{ match: [{ headers: { 'x-a': { regex: '*' } } }], route }] }), '"headers": ');
  });

  it('allows an empty URI prefix but not an empty method/authority/scheme prefix', () => {
    expectValidity(vs({ hosts: ['reviews'], http: [{ match: [{ uri: { prefix: '' } }], route }] }), true);
    expect(find(vs({ hosts: ['reviews'], http: [{ match: [{ method: { prefix: '' } }], route }] }), 'spec.http[0].match[0].method.prefix')).toEqual(['"method": prefix string match should not be empty']);
  });

  it('rejects mirror together with mirrors', () => {
    const c = vs({ hosts: ['reviews'], http: [{ route, mirror: { host: 'a' }, mirrors: [{ destination: { host: 'b' } }] }] });
    expect(find(c, 'spec.http[0].mirrors')).toEqual(['HTTP route cannot contain both mirror and mirrors']);
  });

  it('accepts mirror percentages 0..100 and rejects above 100', () => {
    expectValidity(vs({ hosts: ['reviews'], http: [{ route, mirror: { host: 'a' }, mirrorPercentage: { value: 0 } }] }), true);
    expect(find(vs({ hosts: ['reviews'], http: [{ route, mirror: { host: 'a' }, mirrorPercentage: { value: 100.5 } }] }), 'spec.http[0].mirrorPercentage.value')).toEqual([
      'mirror_percentage must have a max value of 100 (it has 100.500000)',
    ]);
    expect(find(vs({ hosts: ['reviews'], http: [{ route, mirrors: [{ destination: { host: 'a' }, percentage: { value: 101 } }] }] }), 'spec.http[0].mirrors[0].percentage.value')).toEqual([
      'mirror percentage must have a max value of 100 (it has 101.000000)',
    ]);
    // The deprecated field is also accepted under its proto name.
    const old = vs({ hosts: ['reviews'], http: [{ route, mirror: { host: 'a' }, mirror_percent: 101 }] });
    expect(find(old, 'spec.http[0].mirror_percent')).toEqual(['mirror_percent must have a max value of 100 (it has 101)', 'using deprecated setting "mirrorPercent", use "mirrorPercentage" instead']);
  });

  it('checks fault percentages: 0 or [0.0001, 100]', () => {
    const fault = (value: number) => vs({ hosts: ['reviews'], http: [{ route, fault: { delay: { fixedDelay: '1s', percentage: { value } } } }] });
    expectValidity(fault(0), true);
    expectValidity(fault(0.0001), true);
    expect(find(fault(0.00005), 'spec.http[0].fault.delay.percentage.value')).toEqual(['percentage 5e-05 is neither 0.0, nor in range [0.0001, 100.0]']);
  });

  it('drops the "abort without error type" warning, as validateHTTPFaultInjection does', () => {
    expectValidity(vs({ hosts: ['reviews'], http: [{ route, fault: { abort: { percentage: { value: 10 } } } }] }), true, false);
  });

  it('rejects fault or rewrite with redirect/directResponse', () => {
    const c = vs({ hosts: ['reviews'], http: [{ redirect: { uri: '/x' }, fault: { abort: { httpStatus: 500 } }, rewrite: { uri: '/y' } }] });
    expect(find(c, 'spec.http[0].fault')).toEqual(['HTTP route cannot contain both fault and redirect']);
    expect(find(c, 'spec.http[0].rewrite')).toEqual(['HTTP route rule cannot contain both rewrite and redirect']);
    const d = vs({ hosts: ['reviews'], http: [{ directResponse: { status: 200 }, route }] });
    expect(find(d, 'spec.http[0].route')).toEqual(['HTTP route cannot contain both route and direct_response']);
  });

  it('requires redirect.prefixRewrite to go with prefix URI matches only', () => {
    const c = vs({ hosts: ['reviews'], http: [{ match: [{ uri: { prefix: '/a' } }, { uri: { exact: '/b' } }], redirect: { prefixRewrite: '/c' } }] });
    expect(find(c, 'spec.http[0].redirect.prefixRewrite')).toEqual(['redirect prefix_rewrite requires all URI matches to use prefix match type']);
    expect(c.errors[0]!.fix).toContain('match[1]');
  });

  it('measures directResponse bodies in bytes (base64-decoded for `bytes`)', () => {
    const big = Buffer.from('a'.repeat(100 * 1024 + 1)).toString('base64');
    expectValidity(vs({ hosts: ['reviews'], http: [{ directResponse: { status: 200, body: { bytes: big } } }] }), true, true);
    expectValidity(vs({ hosts: ['reviews'], http: [{ directResponse: { status: 200, body: { string: 'é'.repeat(60 * 1024) } } }] }), true, true);
  });

  it('rejects `host` and pseudo-headers in header operations, except authority rewrites', () => {
    const c = vs({
      hosts: ['reviews'],
      http: [{ route, headers: { request: { set: { host: 'a', ':path': '/x' }, remove: ['Host'] }, response: { set: { host: 'b' } } } }],
    });
    expect(find(c, 'spec.http[0].headers.request.set[":path"]')).toEqual(['invalid header ":path": header cannot have ":" prefix']);
    expect(find(c, 'spec.http[0].headers.request.remove[0]')).toEqual(['invalid header "Host": cannot set Host header']);
    expect(find(c, 'spec.http[0].headers.response.set.host')).toEqual(['invalid header "host": cannot set Host header']);
    expect(find(c, 'spec.http[0].headers.request.set.host')).toEqual([]);
  });

  it('allows the authority to be rewritten in one place only', () => {
    const c = vs({ hosts: ['reviews'], http: [{ route, rewrite: { authority: 'a' }, headers: { request: { add: { Host: 'b' } } } }] });
    expect(find(c, 'spec.http[0].headers.request.add.Host')).toEqual(['authority header cannot be set multiple times: have "a", attempting to set "b"']);
  });

  it('enforces delegate constraints', () => {
    const d = vs({ gateways: ['gw'], tcp: [{ route }], tls: [{ match: [{ sniHosts: ['a.com'] }], route }], http: [{ delegate: { name: 'x' } }] });
    expect(find(d, 'spec.gateways')).toEqual(['delegate virtual service must have no gateways specified']);
    expect(find(d, 'spec.tcp')).toEqual(['delegate virtual service must have no tcp route specified']);
    expect(find(d, 'spec.tls')).toEqual(['delegate virtual service must have no tls route specified']);
    expect(find(d, 'spec.http[0].delegate')).toEqual(['delegate HTTP route cannot contain delegate']);
    const root = vs({ hosts: ['reviews'], http: [{ name: 'r', delegate: { name: 'x' }, route, redirect: { uri: '/a' } }] });
    expect(find(root, 'spec.http[0].route')).toEqual(['root HTTP route r must not specify route']);
    expect(find(root, 'spec.http[0].redirect')).toEqual(['root HTTP route r must not specify redirect']);
  });

  it('checks SNI hosts against the VirtualService hosts', () => {
    const c = vs({ hosts: ['*.example.com'], tls: [{ match: [{ sniHosts: ['a.example.com', 'a.other.com'] }], route }] });
    expect(find(c, 'spec.tls[0].match[0].sniHosts[1]')).toEqual(['SNI host "a.other.com" is not a compatible subset of any of the virtual service hosts: [*.example.com]']);
    expect(c.errors).toHaveLength(1);
  });

  it('validates gateway references (and stops after the first name without a namespace, like Istio)', () => {
    expect(find(vs({ hosts: ['a.com'], gateways: ['ns/Bad_Name'], http: [{ route }] }), 'spec.gateways[0]')).toEqual(['invalid value for gateway name: "Bad_Name"']);
    expect(find(vs({ hosts: ['a.com'], gateways: ['gw.ns'], http: [{ route }] }), 'spec.gateways[0]')).toEqual(['using legacy gatewayName format "gw.ns"; prefer the <namespace>/<name> format: "ns/gw"']);
    expectValidity(vs({ hosts: ['a.com'], gateways: ['mesh', 'ns/Bad_Name'], http: [{ route }] }), true);
    // Gateway-API conversions may reference non-DNS gateway names.
    expectValidity(vs({ hosts: ['a.com'], gateways: ['ns/gateway~x'], http: [{ route }] }, { annotations: { 'internal.istio.io/route-semantics': 'gateway' } }), true);
  });

  it('validates exportTo', () => {
    expect(find(vs({ hosts: ['a'], http: [{ route }], exportTo: ['~'] }, { namespace: 'ns' }), 'spec.exportTo[0]')).toEqual(['exportTo ~ (none) is not allowed for Istio configuration objects']);
  });

  it('warns about unreachable rules and shadowed matches', () => {
    const c = vs({
      hosts: ['reviews'],
      http: [
        { name: 'a', match: [{ uri: { prefix: '/api' } }], route },
        { name: 'b', match: [{ uri: { prefix: '/api/v1' } }, { uri: { prefix: '/api' } }], route },
        { route },
        { name: 'd', route },
      ],
    });
    expect(c.errors).toEqual([]);
    expect(c.warnings.map((w) => `${w.path}: ${w.message}`)).toEqual([
      'spec.http[1].match[1]: virtualService rule "b" match #1 is not used (duplicate/overlapping match in rule "a")',
      'spec.http[3]: virtualService rule "d" not used (only the last rule can have no matches)',
      'spec.http[1].match[0]: virtualService rule "b" match #0 of prefix /api/v1 is not used (duplicate/overlapping match in rule #0 of prefix /api on "a")',
    ]);
  });

  it('rejects the annotations Istio reserves, before looking at the spec', () => {
    const dry = vs({ hosts: ['*'] }, { name: 'r', namespace: 'ns', annotations: { 'istio.io/dry-run': 'true' } });
    expect(dry.errors.map((e) => `${e.path}: ${e.message}`)).toEqual(['metadata.annotations["istio.io/dry-run"]: ns/r has unsupported annotation istio.io/dry-run, please remove the annotation']);
    expectMessages(vs({ hosts: ['a'], http: [{ route }] }, { annotations: { 'internal.istio.io/webhook-always-reject': '' } }), '"internal.istio.io/webhook-always-reject" annotation found, rejecting');
    expectMessages(vs({ hosts: ['a'], http: [{ route }] }, { annotations: { 'internal.istio.io/parents': 'x' } }), 'annotation found, this may not be set by users');
  });

  it('never throws on odd input', () => {
    for (const spec of [null, 1, 'x', [], { http: 'x' }, { http: [null, 1, { match: 'x', route: 'y' }] }, { hosts: [null, 3] }]) {
      expect(() => vs(spec)).not.toThrow();
    }
  });
});
