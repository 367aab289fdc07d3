/**
 * Telemetry and ProxyConfig semantic validation against Istio's own test tables:
 * TestValidateTelemetry, TestValidateTelemetryFilter and TestValidateProxyConfig
 * (pkg/config/validation/validation_test.go), translated from Go struct literals to specs.
 * `error` / `warning` are substrings Istio expects in the error / warning ("" = none).
 */
import { describe, expect, it } from 'vitest';
import { validateProxyConfig } from '../src/validate/semantic/extensions.js';
import { celParseError, validateTelemetry } from '../src/validate/semantic/telemetry.js';
import type { SemanticValidator } from '../src/validate/types.js';
import { run, show } from './semantic-security-harness.js';

interface GoCase {
  name: string;
  spec: unknown;
  error: string;
  warning: string;
}

// validation_test.go: TestValidateTelemetry (all cases but "invalid message", which passes a
// Gateway Server where a Telemetry is expected).
const TELEMETRY_CASES: GoCase[] = [
  {"name":"empty","spec":{},"error":"","warning":""},
  {"name":"multiple providers","spec":{"tracing":[{"providers":[{"name":"a"},{"name":"b"}]}]},"error":"","warning":"multiple providers"},
  {"name":"multiple tracers","spec":{"tracing":[{},{}]},"error":"","warning":"multiple tracing"},
  {"name":"bad randomSamplingPercentage","spec":{"tracing":[{"randomSamplingPercentage":101}]},"error":"randomSamplingPercentage","warning":""},
  {"name":"tracing with a good custom tag","spec":{"tracing":[{"customTags":{"clusterID":{"environment":{"name":"FOO"}}}}]},"error":"","warning":""},
  {"name":"tracing with a nil custom tag","spec":{"tracing":[{"customTags":{"clusterID":null}}]},"error":"tag 'clusterID' may not have a nil value","warning":""},
  {"name":"bad metrics operation","spec":{"metrics":[{"overrides":[{"tagOverrides":{"my-tag":{"operation":"UPSERT","value":""}}}]}]},"error":"must be set when operation is UPSERT","warning":""},
  {"name":"good metrics operation","spec":{"metrics":[{"overrides":[{"tagOverrides":{"my-tag":{"operation":"UPSERT","value":"some-cel-expression"}}}]}]},"error":"","warning":""},
  {"name":"multi-accessloggings","spec":{"accessLogging":[{"providers":[{"name":"envoy"}]},{"providers":[{"name":"otel"}]}]},"error":"","warning":""},
  {"name":"multi-accesslogging-providers","spec":{"accessLogging":[{"providers":[{"name":"envoy"},{"name":"otel"}]}]},"error":"","warning":""},
  {"name":"good targetRef","spec":{"tracing":[{"customTags":{"clusterID":{"environment":{"name":"FOO"}}}}],"targetRef":{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"foo"}},"error":"","warning":""},
  {"name":"bad targetRef - empty name","spec":{"tracing":[{"customTags":{"clusterID":{"environment":{"name":"FOO"}}}}],"targetRef":{"group":"gateway.networking.k8s.io","kind":"Gateway"}},"error":"targetRef name must be set","warning":""},
  {"name":"bad targetRef - non-empty namespace","spec":{"tracing":[{"customTags":{"clusterID":{"environment":{"name":"FOO"}}}}],"targetRef":{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"foo","namespace":"bar"}},"error":"targetRef namespace must not be set","warning":""},
  {"name":"bad targetRef - wrong group","spec":{"tracing":[{"customTags":{"clusterID":{"environment":{"name":"FOO"}}}}],"targetRef":{"group":"wrong-group","kind":"Gateway","name":"foo"}},"error":"targetRef must be to one of [core/v1/Service networking.istio.io/v1/ServiceEntry gateway.networking.k8s.io/v1/Gateway gateway.networking.k8s.io/v1/GatewayClass] but was wrong-group/Gateway","warning":""},
  {"name":"bad targetRef - wrong kind","spec":{"tracing":[{"customTags":{"clusterID":{"environment":{"name":"FOO"}}}}],"targetRef":{"group":"gateway.networking.k8s.io","kind":"wrong-kind","name":"foo"}},"error":"targetRef must be to one of [core/v1/Service networking.istio.io/v1/ServiceEntry gateway.networking.k8s.io/v1/Gateway gateway.networking.k8s.io/v1/GatewayClass] but was gateway.networking.k8s.io/wrong-kind","warning":""},
  {"name":"targetRef and selector cannot both be set","spec":{"tracing":[{"customTags":{"clusterID":{"environment":{"name":"FOO"}}}}],"targetRef":{"group":"gateway.networking.k8s.io","kind":"wrong-kind","name":"foo"},"selector":{"matchLabels":{"app":"httpbin"}}},"error":"only one of targetRefs or workloadSelector can be set","warning":""},
];

// Go cases whose input cannot be written in YAML: a `null` map value decodes (jsonpb) to an
// empty CustomTag, not to a nil pointer, and an empty CustomTag has nothing to reject.
const YAML_DIFFERS: Record<string, { error: string; reason: string }> = {
  'tracing with a nil custom tag': { error: '', reason: 'clusterID: null decodes to an empty custom tag' },
};

// validation_test.go: TestValidateProxyConfig.
const PROXY_CONFIG_CASES: GoCase[] = [
  {"name":"empty","spec":{},"error":"","warning":""},
  {"name":"invalid concurrency","spec":{"concurrency":-1},"error":"concurrency must be greater than or equal to 0","warning":""},
];

// validation_test.go: TestValidateTelemetryFilter.
const FILTER_CASES: { expression: string; valid: boolean }[] = [
  {"expression":"response.code >= 400","valid":true},
  {"expression":"connection.mtls && request.url_path.contains('v1beta3')","valid":true},
  {"expression":"response.code","valid":true},
  {"expression":")++++","valid":false},
];

function expectMessages(validator: SemanticValidator, kind: string, c: GoCase, error: string): void {
  const f = run(validator, kind, c.spec, { name: 'foo', namespace: 'bar' });
  if (error === '') expect(f.errors, show(f)).toEqual([]);
  else expect(f.errors.some((e) => e.message.includes(error)), show(f)).toBe(true);
  if (c.warning === '') expect(f.warnings, show(f)).toEqual([]);
  else expect(f.warnings.some((w) => w.message.includes(c.warning)), show(f)).toBe(true);
}

describe('TestValidateTelemetry (Istio Go table)', () => {
  it('covers the Go table', () => expect(TELEMETRY_CASES.length).toBe(16));
  for (const c of TELEMETRY_CASES) {
    const error = YAML_DIFFERS[c.name]?.error ?? c.error;
    it(`${c.name}: ${error || 'accepted'}${c.warning ? ` (warning: ${c.warning})` : ''}`, () => expectMessages(validateTelemetry, 'Telemetry', c, error));
  }
});

describe('TestValidateProxyConfig (Istio Go table)', () => {
  for (const c of PROXY_CONFIG_CASES) {
    it(`${c.name}: ${c.error || 'accepted'}`, () => expectMessages(validateProxyConfig, 'ProxyConfig', c, c.error));
  }
});

describe('TestValidateTelemetryFilter (Istio Go table)', () => {
  for (const c of FILTER_CASES) {
    it(`${JSON.stringify(c.expression)}: ${c.valid ? 'valid' : 'invalid'}`, () => {
      expect(celParseError(c.expression) === undefined).toBe(c.valid);
      const f = run(validateTelemetry, 'Telemetry', { accessLogging: [{ filter: { expression: c.expression } }] });
      expect(f.errors.length === 0, show(f)).toBe(c.valid);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Beyond the Go tables.
// ---------------------------------------------------------------------------------------------

const tel = (spec: unknown) => run(validateTelemetry, 'Telemetry', spec, { name: 't', namespace: 'ns' });
const telErrors = (spec: unknown) => tel(spec).errors.map((e) => `${e.path}: ${e.message}`);

describe('Telemetry: tracing', () => {
  it('accepts the documented shapes', () => {
    expect(telErrors({ tracing: [{ providers: [{ name: 'otel' }], randomSamplingPercentage: 0, customTags: { a: { literal: { value: 'x' } }, b: { header: { name: 'x-b', defaultValue: '' } }, c: { environment: { name: 'POD' } }, d: { formatter: { value: '' } } } }] })).toEqual([]);
    expect(telErrors({ tracing: [{ randomSamplingPercentage: 100 }] })).toEqual([]);
    expect(telErrors({ tracing: [{ randomSamplingPercentage: 0.01 }] })).toEqual([]);
  });
  it('rejects a sampling percentage outside 0..100', () => {
    expect(telErrors({ tracing: [{ randomSamplingPercentage: -0.5 }] })).toEqual(['spec.tracing[0].randomSamplingPercentage: randomSamplingPercentage must be in range [0.0, 100.0]']);
    expect(telErrors({ tracing: [{ randomSamplingPercentage: 100.01 }] })).toEqual(['spec.tracing[0].randomSamplingPercentage: randomSamplingPercentage must be in range [0.0, 100.0]']);
  });
  it('rejects empty custom tag sources, at the field', () => {
    expect(telErrors({ tracing: [{ customTags: { a: { literal: {} }, b: { header: { defaultValue: 'x' } }, c: { environment: { name: '' } } } }] })).toEqual([
      'spec.tracing[0].customTags.a.literal.value: literal tag value may not be empty',
      'spec.tracing[0].customTags.b.header.name: header tag name may not be empty',
      'spec.tracing[0].customTags.c.environment.name: environment tag name may not be empty',
    ]);
  });
  it('checks only the custom tag source jsonpb keeps (the last one declared)', () => {
    expect(telErrors({ tracing: [{ customTags: { a: { literal: { value: '' }, header: { name: 'x' } } } }] })).toEqual([]);
    expect(telErrors({ tracing: [{ customTags: { a: { header: { name: 'x' }, environment: { name: '' } } } }] })).toEqual([]);
    expect(telErrors({ tracing: [{ customTags: { a: { literal: { value: 'x' }, header: { name: '' } } } }] })).toEqual(['spec.tracing[0].customTags.a.header.name: header tag name may not be empty']);
  });
  it('reports only the first empty provider, as Istio does', () => {
    expect(telErrors({ tracing: [{ providers: [{ name: '' }, {}] }] })).toEqual(['spec.tracing[0].providers[0].name: providers.name may not be empty']);
  });
});

describe('Telemetry: metrics', () => {
  const overrides = (o: unknown) => telErrors({ metrics: [{ providers: [{ name: 'prometheus' }], overrides: [o] }] });
  it('accepts tag overrides Istio accepts', () => {
    expect(overrides({ match: { metric: 'REQUEST_COUNT', mode: 'SERVER' }, tagOverrides: { request_host: { value: 'request.host' }, destination_port: { operation: 'REMOVE' } } })).toEqual([]);
    expect(overrides({ match: { customMetric: 'my_metric' }, disabled: true })).toEqual([]);
  });
  it('rejects UPSERT without value (the default operation) and REMOVE with one', () => {
    expect(overrides({ tagOverrides: { a: {} } })).toEqual(['spec.metrics[0].overrides[0].tagOverrides.a.value: tagOverrides.value must be set when operation is UPSERT']);
    expect(overrides({ tagOverrides: { a: { operation: 'REMOVE', value: 'x' } } })).toEqual(['spec.metrics[0].overrides[0].tagOverrides.a.value: tagOverrides.value may only be set when operation is UPSERT']);
  });
  it('warns on an empty tag name', () => {
    const f = tel({ metrics: [{ overrides: [{ tagOverrides: { '': { value: 'x' } } }] }] });
    expect(f.errors).toEqual([]);
    expect(f.warnings.map((w) => w.message)).toEqual(['tagOverrides.name may not be empty']);
  });
  it('rejects an empty custom metric name', () => {
    expect(overrides({ match: { customMetric: '' } })).toEqual(['spec.metrics[0].overrides[0].match.customMetric: customMetric may not be empty']);
  });
});

describe('Telemetry: access logging', () => {
  it('parses the filter expression as CEL, without type checking', () => {
    expect(telErrors({ accessLogging: [{ providers: [{ name: 'envoy' }], filter: { expression: "response.code >= 400 || request.headers['x-debug'] == 'true'" } }] })).toEqual([]);
    expect(telErrors({ accessLogging: [{ filter: { expression: 'response.code >= ' } }] })[0]).toMatch(/^spec\.accessLogging\[0\]\.filter\.expression: must be a valid CEL expression, /);
    expect(telErrors({ accessLogging: [{ filter: {} }] })[0]).toMatch(/must be a valid CEL expression/);
    expect(telErrors({ accessLogging: [{ disabled: true }] })).toEqual([]);
  });
});

describe('Telemetry: selection', () => {
  it('rejects selector with targetRefs, and checks target references', () => {
    expect(telErrors({ selector: { matchLabels: { app: 'a' } }, targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }] })).toEqual(['spec.targetRefs: only one of targetRefs or workloadSelector can be set']);
    expect(telErrors({ targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'r' }] })).toEqual(['spec.targetRefs[0]: targetRef must be to one of [core/v1/Service networking.istio.io/v1/ServiceEntry gateway.networking.k8s.io/v1/Gateway gateway.networking.k8s.io/v1/GatewayClass] but was gateway.networking.k8s.io/HTTPRoute']);
  });
});

describe('ProxyConfig: beyond the Go table', () => {
  const pc = (spec: unknown) => run(validateProxyConfig, 'ProxyConfig', spec, { name: 'pc', namespace: 'ns' }).errors.map((e) => `${e.path}: ${e.message}`);
  it('accepts zero and positive concurrency', () => {
    expect(pc({ concurrency: 0 })).toEqual([]);
    expect(pc({ concurrency: 4, selector: { matchLabels: { app: 'a' } }, environmentVariables: { A: 'b' } })).toEqual([]);
  });
  it('rejects negative concurrency and wildcard selectors', () => {
    expect(pc({ concurrency: -2 })).toEqual(['spec.concurrency: concurrency must be greater than or equal to 0']);
    expect(pc({ selector: { matchLabels: { '*': 'x' } } })).toEqual(['spec.selector.matchLabels["*"]: wildcard is not supported in selector: "*=x"']);
  });
});
