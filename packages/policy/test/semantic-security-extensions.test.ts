/**
 * WasmPlugin, TrafficExtension and EnvoyFilter semantic validation against Istio's own test
 * tables: TestValidateWasmPlugin and TestValidateTrafficExtension
 * (pkg/config/validation/validation_test.go) and TestValidateEnvoyFilter
 * (pkg/config/validation/envoyfilter/envoyfilter_test.go), translated from Go struct literals
 * to specs. `error` / `warning` are substrings Istio expects ("" = none).
 */
import { describe, expect, it } from 'vitest';
import { validateEnvoyFilter, validateTrafficExtension, validateWasmPlugin } from '../src/validate/semantic/extensions.js';
import type { SemanticValidator } from '../src/validate/types.js';
import { run, show, type Findings } from './semantic-security-harness.js';

interface GoCase {
  name: string;
  spec: unknown;
  error: string;
  warning: string;
}

// validation_test.go: TestValidateWasmPlugin (all cases but "invalid message", which passes a
// Gateway Server where a WasmPlugin is expected).
const WASM_CASES: GoCase[] = [
  {"name":"empty","spec":{},"error":"url field needs to be set","warning":""},
  {"name":"wrong scheme","spec":{"url":"ftp://test.com/test"},"error":"unsupported scheme","warning":""},
  {"name":"valid http","spec":{"url":"http://test.com/test"},"error":"","warning":""},
  {"name":"valid http w/ sha","spec":{"url":"http://test.com/test","sha256":"01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b"},"error":"","warning":""},
  {"name":"short sha","spec":{"url":"http://test.com/test","sha256":"01ba47"},"error":"sha256 field must be 64 characters long","warning":""},
  {"name":"invalid sha","spec":{"url":"http://test.com/test","sha256":"test"},"error":"sha256 field must be 64 characters long","warning":""},
  {"name":"invalid sha characters","spec":{"url":"http://test.com/test","sha256":"01Ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b"},"error":"sha256 field must match [a-f0-9]{64} pattern","warning":""},
  {"name":"valid oci","spec":{"url":"oci://test.com/test"},"error":"","warning":""},
  {"name":"valid oci no scheme","spec":{"url":"test.com/test"},"error":"","warning":""},
  {"name":"invalid vm config - invalid env name","spec":{"url":"test.com/test","vmConfig":{"env":[{"name":"","valueFrom":"HOST"}]}},"error":"spec.vmConfig.env invalid","warning":""},
  {"name":"invalid vm config - duplicate env","spec":{"url":"test.com/test","vmConfig":{"env":[{"name":"ENV1","value":"VAL1"},{"name":"ENV1","value":"VAL1"}]}},"error":"duplicate env","warning":""},
  {"name":"target-ref-good","spec":{"url":"http://test.com/test","targetRef":{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"foo"}},"error":"","warning":""},
  {"name":"target-ref-good-service","spec":{"url":"http://test.com/test","targetRef":{"group":"","kind":"Service","name":"foo"}},"error":"","warning":""},
  {"name":"target-ref-non-empty-namespace","spec":{"url":"http://test.com/test","targetRef":{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"foo","namespace":"bar"}},"error":"targetRef namespace must not be set","warning":""},
  {"name":"target-ref-empty-name","spec":{"url":"http://test.com/test","targetRef":{"group":"gateway.networking.k8s.io","kind":"Gateway"}},"error":"targetRef name must be set","warning":""},
  {"name":"target-ref-wrong-group","spec":{"url":"http://test.com/test","targetRef":{"group":"wrong-group","kind":"Gateway","name":"foo"}},"error":"targetRef must be to one of [core/v1/Service networking.istio.io/v1/ServiceEntry gateway.networking.k8s.io/v1/Gateway gateway.networking.k8s.io/v1/GatewayClass] but was wrong-group/Gateway","warning":""},
  {"name":"target-ref-wrong-kind","spec":{"url":"http://test.com/test","targetRef":{"group":"gateway.networking.k8s.io","kind":"wrong-kind","name":"foo"}},"error":"targetRef must be to one of [core/v1/Service networking.istio.io/v1/ServiceEntry gateway.networking.k8s.io/v1/Gateway gateway.networking.k8s.io/v1/GatewayClass] but was gateway.networking.k8s.io/wrong-kind","warning":""},
  {"name":"target-ref-and-selector-cannot-both-be-set","spec":{"url":"http://test.com/test","targetRef":{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"foo"},"selector":{"matchLabels":{"app":"httpbin"}}},"error":"only one of targetRefs or workloadSelector can be set","warning":""},
];

// validation_test.go: TestValidateTrafficExtension (all cases but "invalid message").
const TRAFFIC_EXTENSION_CASES: GoCase[] = [
  {"name":"neither wasm nor lua set","spec":{},"error":"exactly one of wasm or lua must be set","warning":""},
  {"name":"valid lua config","spec":{"lua":{"inlineCode":"function envoy_on_request(request_handle)\n  request_handle:headers():add('x-foo', 'bar')\nend"}},"error":"","warning":""},
  {"name":"lua code empty","spec":{"lua":{"inlineCode":""}},"error":"lua.inlineCode cannot be empty","warning":""},
  {"name":"lua code too large","spec":{"lua":{"inlineCode":{"$repeat":["\u0000",65537]}}},"error":"lua.inlineCode exceeds maximum size of 64KB","warning":""},
  {"name":"valid wasm config","spec":{"wasm":{"url":"http://test.com/test"}},"error":"","warning":""},
  {"name":"wasm url empty","spec":{"wasm":{"url":""}},"error":"url field needs to be set","warning":""},
  {"name":"wasm wrong scheme","spec":{"wasm":{"url":"ftp://test.com/test"}},"error":"unsupported scheme","warning":""},
  {"name":"wasm valid http","spec":{"wasm":{"url":"http://test.com/test"}},"error":"","warning":""},
  {"name":"wasm valid http w/ sha","spec":{"wasm":{"url":"http://test.com/test","sha256":"01ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b"}},"error":"","warning":""},
  {"name":"wasm short sha","spec":{"wasm":{"url":"http://test.com/test","sha256":"01ba47"}},"error":"sha256 field must be 64 characters long","warning":""},
  {"name":"wasm invalid sha characters","spec":{"wasm":{"url":"http://test.com/test","sha256":"01Ba4719c80b6fe911b091a7c05124b64eeece964e09c058ef8f9805daca546b"}},"error":"sha256 field must match [a-f0-9]{64} pattern","warning":""},
  {"name":"wasm valid oci","spec":{"wasm":{"url":"oci://test.com/test"}},"error":"","warning":""},
  {"name":"wasm valid oci no scheme","spec":{"wasm":{"url":"test.com/test"}},"error":"","warning":""},
  {"name":"wasm invalid vm config - invalid env name","spec":{"wasm":{"url":"test.com/test","vmConfig":{"env":[{"name":"","valueFrom":"HOST"}]}}},"error":"spec.vmConfig.env invalid","warning":""},
  {"name":"wasm invalid vm config - duplicate env","spec":{"wasm":{"url":"test.com/test","vmConfig":{"env":[{"name":"ENV1","value":"VAL1"},{"name":"ENV1","value":"VAL1"}]}}},"error":"duplicate env","warning":""},
  {"name":"valid lua with selector","spec":{"selector":{"matchLabels":{"app":"test"}},"lua":{"inlineCode":"function envoy_on_request() end"}},"error":"","warning":""},
  {"name":"valid lua with targetRefs","spec":{"targetRefs":[{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"gateway"}],"lua":{"inlineCode":"function envoy_on_request() end"}},"error":"","warning":""},
  {"name":"both selector and targetRefs","spec":{"selector":{"matchLabels":{"app":"test"}},"targetRefs":[{"group":"gateway.networking.k8s.io","kind":"Gateway","name":"gateway"}],"lua":{"inlineCode":"function envoy_on_request() end"}},"error":"only one of targetRefs or workloadSelector can be set","warning":""},
  {"name":"invalid match - nil traffic selector","spec":{"match":[null],"lua":{"inlineCode":"function envoy_on_request() end"}},"error":"spec.Match[0] is nil","warning":""},
  {"name":"invalid match - nil port selector","spec":{"match":[{"ports":[null]}],"lua":{"inlineCode":"function envoy_on_request() end"}},"error":"spec.Match[0].Ports[0] is nil","warning":""},
  {"name":"invalid match - port out of range (too low)","spec":{"match":[{"ports":[{"number":0}]}],"lua":{"inlineCode":"function envoy_on_request() end"}},"error":"spec.Match[0].Ports[0] is out of range: 0","warning":""},
  {"name":"invalid match - port out of range (too high)","spec":{"match":[{"ports":[{"number":65536}]}],"lua":{"inlineCode":"function envoy_on_request() end"}},"error":"spec.Match[0].Ports[0] is out of range: 65536","warning":""},
  {"name":"valid match with port","spec":{"match":[{"mode":"CLIENT","ports":[{"number":8080}]}],"lua":{"inlineCode":"function envoy_on_request() end"}},"error":"","warning":""},
  {"name":"wasm plugin name too long","spec":{"wasm":{"url":"test.com/test","pluginName":{"$repeat":["\u0000",257]}}},"error":"pluginName field must be less than 256 characters long","warning":""},
];

// envoyfilter_test.go: TestValidateEnvoyFilter (every case).
const ENVOY_FILTER_CASES: GoCase[] = [
  {"name":"empty filters","spec":{},"error":"","warning":""},
  {"name":"labels not defined in workload selector","spec":{"workloadSelector":{}},"error":"","warning":"Envoy filter: workload selector specified without labels, will be applied to all services in namespace"},
  {"name":"invalid applyTo","spec":{"configPatches":[{"applyTo":0}]},"error":"Envoy filter: missing applyTo","warning":""},
  {"name":"nil patch","spec":{"configPatches":[{"applyTo":"LISTENER"}]},"error":"Envoy filter: missing patch","warning":""},
  {"name":"invalid patch operation","spec":{"configPatches":[{"applyTo":"LISTENER","patch":{}}]},"error":"Envoy filter: missing patch operation","warning":""},
  {"name":"nil patch value","spec":{"configPatches":[{"applyTo":"LISTENER","patch":{"operation":"ADD"}}]},"error":"Envoy filter: missing patch value for non-remove operation","warning":""},
  {"name":"match with invalid regex","spec":{"configPatches":[{"applyTo":"LISTENER","match":{"proxy":{"proxyVersion":"%#@~++==`24c234`"}},"patch":{"operation":"REMOVE"}}]},"error":"Envoy filter: invalid regex for proxy version, [error parsing regexp: invalid nested repetition operator: `++`]","warning":""},
  {"name":"match with valid regex","spec":{"configPatches":[{"applyTo":"LISTENER","match":{"proxy":{"proxyVersion":"release-1\\.2-23434"}},"patch":{"operation":"REMOVE"}}]},"error":"","warning":""},
  {"name":"match with proxy version regex too long","spec":{"configPatches":[{"applyTo":"LISTENER","match":{"proxy":{"proxyVersion":{"$repeat":["a{100}",200]}}},"patch":{"operation":"REMOVE"}}]},"error":"","warning":"Envoy filter: proxyVersion match exceeds 1024 characters and will be ignored"},
  {"name":"listener with invalid match","spec":{"configPatches":[{"applyTo":"LISTENER","match":{"cluster":{}},"patch":{"operation":"REMOVE"}}]},"error":"Envoy filter: applyTo for listener class objects cannot have non listener match","warning":""},
  {"name":"listener with invalid filter match","spec":{"configPatches":[{"applyTo":"NETWORK_FILTER","match":{"listener":{"filterChain":{"sni":"124","filter":{}}}},"patch":{"operation":"REMOVE"}}]},"error":"Envoy filter: filter match has no name to match on","warning":""},
  {"name":"listener with sub filter match and invalid applyTo","spec":{"configPatches":[{"applyTo":"NETWORK_FILTER","match":{"listener":{"filterChain":{"filter":{"name":"random","subFilter":{}}}}},"patch":{"operation":"REMOVE"}}]},"error":"Envoy filter: subfilter match can be used with applyTo HTTP_FILTER only","warning":""},
  {"name":"listener with sub filter match and invalid filter name","spec":{"configPatches":[{"applyTo":"HTTP_FILTER","match":{"listener":{"filterChain":{"filter":{"name":"random","subFilter":{}}}}},"patch":{"operation":"REMOVE"}}]},"error":"Envoy filter: subfilter match requires filter match with envoy.filters.network.http_connection_manager","warning":""},
  {"name":"listener with sub filter match and no sub filter name","spec":{"configPatches":[{"applyTo":"HTTP_FILTER","match":{"listener":{"filterChain":{"filter":{"name":"envoy.filters.network.http_connection_manager","subFilter":{}}}}},"patch":{"operation":"REMOVE"}}]},"error":"Envoy filter: subfilter match has no name to match on","warning":""},
  {"name":"route configuration with invalid match","spec":{"configPatches":[{"applyTo":"VIRTUAL_HOST","match":{"cluster":{}},"patch":{"operation":"REMOVE"}}]},"error":"Envoy filter: applyTo for http route class objects cannot have non route configuration match","warning":""},
  {"name":"cluster with invalid match","spec":{"configPatches":[{"applyTo":"CLUSTER","match":{"listener":{}},"patch":{"operation":"REMOVE"}}]},"error":"Envoy filter: applyTo for cluster class objects cannot have non cluster match","warning":""},
  {"name":"invalid patch value","spec":{"configPatches":[{"applyTo":"CLUSTER","match":{"cluster":{}},"patch":{"operation":"ADD","value":{"name":false}}}]},"error":"Envoy filter: json: cannot unmarshal bool into Go value of type string","warning":""},
  {"name":"happy config","spec":{"configPatches":[{"applyTo":"CLUSTER","match":{"cluster":{}},"patch":{"operation":"ADD","value":{"lb_policy":"RING_HASH"}}},{"applyTo":"NETWORK_FILTER","match":{"listener":{"filterChain":{"name":"envoy.tcp_proxy"}}},"patch":{"operation":"INSERT_BEFORE","value":{"typed_config":{"@type":"type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz"}}}},{"applyTo":"NETWORK_FILTER","match":{"listener":{"filterChain":{"name":"envoy.tcp_proxy"}}},"patch":{"operation":"INSERT_FIRST","value":{"typed_config":{"@type":"type.googleapis.com/envoy.extensions.filters.http.ext_authz.v3.ExtAuthz"}}}}]},"error":"","warning":""},
  {"name":"deprecated config","spec":{"configPatches":[{"applyTo":"NETWORK_FILTER","match":{"listener":{"filterChain":{"name":"envoy.tcp_proxy"}}},"patch":{"operation":"INSERT_FIRST","value":{"typed_config":{"@type":"type.googleapis.com/envoy.config.filter.network.ext_authz.v2.ExtAuthz"}}}}]},"error":"referenced type unknown (hint: try using the v3 XDS API)","warning":""},
  {"name":"deprecated type","spec":{"configPatches":[{"applyTo":"HTTP_FILTER","match":{"listener":{"filterChain":{"filter":{"name":"envoy.http_connection_manager"}}}},"patch":{"operation":"INSERT_FIRST","value":{}}}]},"error":"","warning":"using deprecated filter name"},
  {"name":"duration marshal","spec":{"configPatches":[{"applyTo":"CLUSTER","patch":{"operation":"ADD","value":{"dns_refresh_rate":"500ms"}}}]},"error":"","warning":""},
];

// Cases whose Go input has no YAML form, or whose check needs Envoy's protobuf descriptors.
const DIFFERS: Record<string, { error: string; reason: string }> = {
  'invalid match - nil traffic selector': { error: '', reason: 'match: [null] decodes (jsonpb) to an empty selector, which has no ports to check' },
  'invalid match - nil port selector': { error: 'spec.Match[0].Ports[0] is out of range: 0', reason: 'ports: [null] decodes (jsonpb) to port 0' },
  'match with invalid regex': { error: 'Envoy filter: invalid regex for proxy version, [', reason: 'the RE2 library words the syntax error differently from Go regexp' },
  'invalid patch value': { error: '', reason: 'type checking a patch value against the Envoy Cluster message needs Envoy protobuf descriptors (not ported)' },
};

// Istio's test calls the inner validateEnvoyFilter, which skips the warning every EnvoyFilter gets.
const ALWAYS_WARNING = 'EnvoyFilter exposes internal implementation details';

function expectMessages(f: Findings, error: string, warning: string): void {
  if (error === '') expect(f.errors, show(f)).toEqual([]);
  else expect(f.errors.some((e) => e.message.includes(error)), show(f)).toBe(true);
  if (warning === '') expect(f.warnings, show(f)).toEqual([]);
  else expect(f.warnings.some((w) => w.message.includes(warning)), show(f)).toBe(true);
  for (const e of f.errors) expect(e.fix, e.message).toBeTruthy();
}

function table(title: string, cases: GoCase[], count: number, validator: SemanticValidator, kind: string): void {
  describe(title, () => {
    it('covers the Go table', () => expect(cases.length).toBe(count));
    for (const c of cases) {
      const error = DIFFERS[c.name]?.error ?? c.error;
      it(`${c.name}: ${error || 'accepted'}${c.warning ? ` (warning: ${c.warning})` : ''}`, () => {
        const f = run(validator, kind, c.spec, { name: 'foo', namespace: 'bar' });
        if (kind === 'EnvoyFilter') {
          expect(f.warnings.some((w) => w.message.startsWith(ALWAYS_WARNING)), show(f)).toBe(true);
          f.warnings = f.warnings.filter((w) => !w.message.startsWith(ALWAYS_WARNING));
        }
        expectMessages(f, error, c.warning);
      });
    }
  });
}

table('TestValidateWasmPlugin (Istio Go table)', WASM_CASES, 18, validateWasmPlugin, 'WasmPlugin');
table('TestValidateTrafficExtension (Istio Go table)', TRAFFIC_EXTENSION_CASES, 24, validateTrafficExtension, 'TrafficExtension');
table('TestValidateEnvoyFilter (Istio Go table)', ENVOY_FILTER_CASES, 21, validateEnvoyFilter, 'EnvoyFilter');

// ---------------------------------------------------------------------------------------------
// Beyond the Go tables.
// ---------------------------------------------------------------------------------------------

const wasm = (spec: unknown) => run(validateWasmPlugin, 'WasmPlugin', spec, { name: 'w', namespace: 'ns' }).errors.map((e) => `${e.path}: ${e.message}`);

describe('WasmPlugin: url (url.ParseRequestURI, then with http:// prepended)', () => {
  for (const url of ['oci://ghcr.io/org/plugin:1.0', 'https://example.com/plugin.wasm', 'http://10.0.0.1:8080/p.wasm', 'file:///opt/filters/plugin.wasm', 'ghcr.io/org/plugin:1.0', 'ghcr.io/org/plugin@sha256:abc', 'OCI://ghcr.io/x']) {
    it(`accepts ${url}`, () => expect(wasm({ url })).toEqual([]));
  }
  it('rejects unsupported schemes and unparsable URLs', () => {
    expect(wasm({ url: 'ftp://example.com/p.wasm' })).toEqual(['spec.url: url contains unsupported scheme: ftp']);
    expect(wasm({ url: 's3://bucket/p.wasm' })).toEqual(['spec.url: url contains unsupported scheme: s3']);
    expect(wasm({ url: '#%blah$#@' })).toEqual(['spec.url: failed to parse url: parse "#%blah$#@": invalid URI for request']);
    expect(wasm({ url: '%zz' })).toEqual(['spec.url: failed to parse url: parse "%zz": invalid URI for request']);
  });
  it('inherits Go\'s leniency: a URL whose host fails is retried as a path', () => {
    // "http://a b/x" fails, but "http://http://a b/x" parses (host "http:", path "//a b/x").
    expect(wasm({ url: 'http://a b/x' })).toEqual([]);
    expect(wasm({ url: 'http://[1.2.3.4]/p.wasm' })).toEqual([]);
  });
  it('checks sha256, lengths and env', () => {
    expect(wasm({ url: 'oci://x/y', sha256: 'A'.repeat(64) })).toEqual(['spec.sha256: sha256 field must match [a-f0-9]{64} pattern']);
    expect(wasm({ url: 'oci://x/y', sha256: 'a'.repeat(63) })).toEqual(['spec.sha256: sha256 field must be 64 characters long']);
    expect(wasm({ url: 'oci://x/y', imagePullSecret: 's'.repeat(254), pluginName: 'p'.repeat(257) })).toEqual([
      'spec.imagePullSecret: imagePullSecret field must be less than 253 characters long',
      'spec.pluginName: pluginName field must be less than 255 characters long',
    ]);
    expect(wasm({ url: 'oci://x/y', imagePullSecret: 's'.repeat(253), pluginName: 'p'.repeat(256) })).toEqual([]);
    expect(wasm({ url: 'oci://x/y', vmConfig: { env: [{ name: 'A', valueFrom: 'HOST' }, { name: 'B', value: 'b' }, { name: 'C', valueFrom: 'HOST', value: 'c' }] } })).toEqual(['spec.vmConfig.env[2].value: value may only be set when valueFrom is INLINE']);
  });
  it('checks match ports', () => {
    expect(wasm({ url: 'oci://x/y', match: [{ mode: 'SERVER', ports: [{ number: 8080 }] }, { mode: 'CLIENT' }] })).toEqual([]);
    expect(wasm({ url: 'oci://x/y', match: [{ ports: [{ number: 80 }, { number: 70000 }] }] })).toEqual(['spec.match[0].ports[1].number: spec.Match[0].Ports[1] is out of range: 70000']);
  });
  it('rejects istio.io/dry-run', () => {
    const f = run(validateWasmPlugin, 'WasmPlugin', { url: 'oci://x/y' }, { name: 'w', namespace: 'ns', annotations: { 'istio.io/dry-run': 'false' } });
    expect(f.errors.map((e) => e.message)).toEqual(['ns/w has unsupported annotation istio.io/dry-run, please remove the annotation']);
  });
});

describe('TrafficExtension: beyond the Go table', () => {
  const te = (spec: unknown) => run(validateTrafficExtension, 'TrafficExtension', spec, { name: 'te', namespace: 'ns' }).errors.map((e) => `${e.path}: ${e.message}`);
  it('checks only the filter jsonpb keeps when both are written (lua, declared last)', () => {
    // The CRD's CEL rule ("exactly one of wasm or lua must be set") rejects this document first.
    expect(te({ wasm: { url: '' }, lua: { inlineCode: 'function envoy_on_request(h) end' } })).toEqual([]);
    expect(te({ wasm: { url: 'oci://x/y' }, lua: { inlineCode: '' } })).toEqual(['spec.lua.inlineCode: lua.inlineCode cannot be empty']);
  });
  it('checks the wasm filter like a WasmPlugin', () => {
    expect(te({ wasm: { url: 'ftp://x/y', sha256: 'abc' } })).toEqual(['spec.wasm.url: url contains unsupported scheme: ftp', 'spec.wasm.sha256: sha256 field must be 64 characters long']);
    expect(te({ wasm: { url: 'oci://x/y', imagePullSecret: 'x'.repeat(254) } })).toEqual(['spec.wasm.imagePullSecret: imagePullSecret field must be less than 253 characters long']);
  });
  it('has no targetRef field to combine with a selector', () => {
    expect(te({ lua: { inlineCode: 'x' }, selector: { matchLabels: { a: 'b' } }, targetRef: { kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'g' } })).toEqual([]);
  });
});

describe('EnvoyFilter: beyond the Go table', () => {
  const ef = (spec: unknown) => run(validateEnvoyFilter, 'EnvoyFilter', spec, { name: 'ef', namespace: 'ns' });
  const efErrors = (spec: unknown) => ef(spec).errors.map((e) => `${e.path}: ${e.message}`);
  const efWarnings = (spec: unknown) => ef(spec).warnings.map((w) => `${w.path}: ${w.message}`).filter((w) => !w.includes(ALWAYS_WARNING));
  it('always warns that EnvoyFilter is unstable', () => {
    expect(ef({}).warnings.map((w) => w.message)).toEqual(['EnvoyFilter exposes internal implementation details that may change at any time. Prefer other APIs if possible, and exercise extreme caution, especially around upgrades.']);
  });
  it('returns the selector errors alone, as Istio does', () => {
    const f = ef({ workloadSelector: { labels: { app: 'a*' } }, configPatches: [{}] });
    expect(f.errors.map((e) => e.message)).toEqual(['wildcard is not supported in selector: "app=a*"']);
    expect(f.warnings).toEqual([]);
  });
  it('skips WAYPOINT patches, which Istio does not validate yet', () => {
    expect(efErrors({ configPatches: [{ match: { context: 'WAYPOINT' } }] })).toEqual([]);
  });
  it('accepts REMOVE without a value, and reads a null patch entry as an empty patch', () => {
    expect(efErrors({ configPatches: [{ applyTo: 'HTTP_FILTER', patch: { operation: 'REMOVE' } }] })).toEqual([]);
    expect(efErrors({ configPatches: [null] })).toEqual(['spec.configPatches[0].applyTo: Envoy filter: missing applyTo']);
    expect(efErrors({ configPatches: [{ applyTo: 'CLUSTER', patch: { operation: 'MERGE', value: null } }] })).toEqual(['spec.configPatches[0].patch: Envoy filter: missing patch value for non-remove operation']);
  });
  it('accepts a valid proxyVersion pattern', () => {
    expect(efErrors({ configPatches: [{ applyTo: 'CLUSTER', match: { proxy: { proxyVersion: '^1\\.2[0-9].*' } }, patch: { operation: 'REMOVE' } }] })).toEqual([]);
  });
  it('warns about deprecated filter names, HTTP or network by position', () => {
    const spec = { configPatches: [{ applyTo: 'HTTP_FILTER', match: { listener: { filterChain: { filter: { name: HCM, subFilter: { name: 'envoy.ext_authz' } } } } }, patch: { operation: 'REMOVE' } }, { applyTo: 'NETWORK_FILTER', match: { listener: { filterChain: { filter: { name: 'envoy.ext_authz' } } } }, patch: { operation: 'REMOVE' } }] };
    expect(efWarnings(spec)).toEqual([
      'spec.configPatches[0].match.listener.filterChain.filter.subFilter.name: using deprecated filter name "envoy.ext_authz"; use "envoy.filters.http.ext_authz" instead',
      'spec.configPatches[1].match.listener.filterChain.filter.name: using deprecated filter name "envoy.ext_authz"; use "envoy.filters.network.ext_authz" instead',
    ]);
  });
  it('warns when a filter match is used with LISTENER or FILTER_CHAIN', () => {
    expect(efWarnings({ configPatches: [{ applyTo: 'FILTER_CHAIN', match: { listener: { filterChain: { filter: { name: HCM } } } }, patch: { operation: 'REMOVE' } }] })).toEqual(['spec.configPatches[0].match.listener.filterChain.filter: Envoy filter: filter match has no effect when used with FILTER_CHAIN']);
  });
  it('warns about filters named without typed_config', () => {
    expect(efWarnings({ configPatches: [{ applyTo: 'NETWORK_FILTER', patch: { operation: 'INSERT_FIRST', value: { name: 'envoy.filters.network.tcp_proxy' } } }] })).toEqual(['spec.configPatches[0].patch.value: using deprecated types by name without typed_config; envoy.filters.network.tcp_proxy']);
    expect(efWarnings({ configPatches: [{ applyTo: 'HTTP_FILTER', patch: { operation: 'INSERT_FIRST', value: { name: 'x', config_discovery: { type_urls: ['t'] } } } }] })).toEqual([]);
    expect(efWarnings({ configPatches: [{ applyTo: 'CLUSTER', patch: { operation: 'ADD', value: { name: 'c', transport_socket: { name: 'envoy.transport_sockets.tls' } } } }] })).toEqual(['spec.configPatches[0].patch.value: using deprecated types by name without typed_config; envoy.transport_sockets.tls']);
  });
  it('rejects Envoy v2 types, except inside a TypedStruct value', () => {
    const patch = (value: unknown) => ({ configPatches: [{ applyTo: 'HTTP_FILTER', patch: { operation: 'INSERT_BEFORE', value } }] });
    expect(efErrors(patch({ name: 'x', typed_config: { '@type': 'type.googleapis.com/envoy.config.filter.http.lua.v2.Lua' } }))).toEqual(['spec.configPatches[0].patch.value.typed_config["@type"]: referenced type unknown (hint: try using the v3 XDS API): Envoy filter: could not resolve Any message type: type.googleapis.com/envoy.config.filter.http.lua.v2.Lua']);
    expect(efErrors(patch({ name: 'x', typed_config: { '@type': 'type.googleapis.com/udpa.type.v1.TypedStruct', type_url: 'type.googleapis.com/x', value: { '@type': 'type.googleapis.com/envoy.api.v2.Cluster' } } }))).toEqual([]);
    expect(efErrors(patch({ name: 'x', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.lua.v3.Lua' } }))).toEqual([]);
  });
});

const HCM = 'envoy.filters.network.http_connection_manager';
