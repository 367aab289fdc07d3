/**
 * Every AuthorizationPolicy, PeerAuthentication, RequestAuthentication, Telemetry, EnvoyFilter,
 * WasmPlugin, ProxyConfig and TrafficExtension in Istio's own YAML (read in place from
 * /work/shared/conformance/istio) goes through the semantic validators registered for its kind.
 * Documents Istio accepts must produce no error; the CRD test documents Istio rejects
 * (`*-invalid.yaml`) must be rejected, except where the rejection is not semantic.
 */
import { existsSync, readdirSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadPaths } from '../src/load/loader.js';
import { formatPath, type Resource } from '../src/load/resource.js';
import { SEMANTIC_VALIDATORS } from '../src/validate/semantic/index.js';

const ROOT = '/work/shared/conformance/istio';
const KINDS = ['AuthorizationPolicy', 'PeerAuthentication', 'RequestAuthentication', 'Telemetry', 'EnvoyFilter', 'WasmPlugin', 'ProxyConfig', 'TrafficExtension'];
const CRDS = join(ROOT, 'pkg/config/validation/testdata/crds');

function files(dir: string, pattern: RegExp): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...files(p, pattern));
    else if (pattern.test(entry.name)) out.push(p);
  }
  return out.sort();
}

interface Outcome {
  doc: string;
  kind: string;
  errors: string[];
  warnings: string[];
}

function validateAll(paths: string[]): { outcomes: Outcome[]; loadErrors: string[] } {
  const { resources, diagnostics } = loadPaths(paths);
  const loadErrors = diagnostics.filter((d) => d.severity === 'error').map((d) => `${relative(ROOT, d.file ?? '')}: ${d.message}`);
  const mine = resources.filter((r: Resource) => KINDS.includes(r.kind) && r.group.endsWith('istio.io'));
  const outcomes = mine.map((r) => {
    const errors: string[] = [];
    const warnings: string[] = [];
    const validator = SEMANTIC_VALIDATORS.get(r.kind);
    if (!validator) throw new Error(`no semantic validator registered for ${r.kind}`);
    validator(r.spec, {
      resource: r,
      report: {
        error: (p, m) => errors.push(`${formatPath(p)}: ${m}`),
        warn: (p, m) => warnings.push(`${formatPath(p)}: ${m}`),
      },
    });
    return { doc: `${relative(ROOT, r.source.file)}:${r.source.line} ${r.metadata.name}`, kind: r.kind, errors, warnings };
  });
  return { outcomes, loadErrors };
}

function countByKind(outcomes: readonly Outcome[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const k of KINDS) counts[k] = 0;
  for (const o of outcomes) counts[o.kind] = (counts[o.kind] ?? 0) + 1;
  return counts;
}

describe.skipIf(!existsSync(ROOT))('Istio corpus: documents Istio accepts', () => {
  const sources = [
    join(ROOT, 'samples'),
    join(ROOT, 'tests/testdata/config'),
    join(ROOT, 'pkg/test/datasets/validation/dataset'),
    ...files(CRDS, /-valid\.yaml$/),
    ...files(join(ROOT, 'pilot/pkg/security/authz/builder/testdata'), /-in\.yaml$/),
    ...files(join(ROOT, 'pilot/pkg/serviceregistry/ambient/testdata'), /-in\.yaml$/),
    join(ROOT, 'pkg/config/analysis/analyzers/testdata'),
  ];
  const { outcomes, loadErrors } = validateAll(sources);
  const counts = countByKind(outcomes);
  console.log(`semantic-security corpus (accepted by Istio): ${outcomes.length} documents`, counts);

  it('reads every document it should', () => {
    // Two analyzer inputs are MeshConfig snippets, not Kubernetes objects.
    expect(loadErrors).toEqual([
      'pkg/config/analysis/analyzers/testdata/serviceentry-address-allocated-mesh-cfg.yaml: apiVersion is missing',
      'pkg/config/analysis/analyzers/testdata/serviceentry-missing-addresses-protocol-mesh-cfg.yaml: apiVersion is missing',
    ]);
    expect(counts).toEqual({
      AuthorizationPolicy: 61,
      PeerAuthentication: 36,
      RequestAuthentication: 3,
      Telemetry: 7,
      EnvoyFilter: 6,
      WasmPlugin: 5,
      ProxyConfig: 3,
      TrafficExtension: 1,
    });
  });

  it('produces no error for any of them', () => {
    // Istio's webhook rejects none of these. The authz builder's "bad" inputs
    // (custom-bad-multiple-providers-in.yaml, and custom-simple-http-in.yaml rendered with
    // unknown providers into custom-bad-out.yaml) are bad only against meshConfig: the webhook
    // checks that provider.name is set, not that the provider exists.
    const rejected = outcomes.filter((o) => o.errors.length > 0).map((o) => `${o.doc}\n  ${o.errors.join('\n  ')}`);
    expect(rejected).toEqual([]);
  });

  it('warns exactly where Istio warns', () => {
    const warned = outcomes
      .flatMap((o) => o.warnings.map((w) => `${o.doc}: ${w}`))
      .filter((w) => !w.includes('EnvoyFilter exposes internal implementation details'));
    const DENY_TCP = 'configured AuthorizationPolicy will deny all traffic to TCP ports under its scope due to the use of only HTTP attributes in a DENY rule; it is recommended to explicitly specify the port';
    expect(warned).toEqual([
      'pkg/config/validation/testdata/crds/peerauth-valid.yaml:16 partial-selector: spec.selector: workload selector specified without labels',
      'pkg/config/validation/testdata/crds/proxyconfig-valid.yaml:16 empty-selector: spec.selector: workload selector specified without labels',
      `pilot/pkg/security/authz/builder/testdata/http/dry-run-allow-and-deny-in.yaml:19 httpbin-2: spec.rules[0]: ${DENY_TCP}`,
      `pilot/pkg/security/authz/builder/testdata/tcp/deny-both-http-tcp-in.yaml:1 httpbin-deny: spec.rules[0]: ${DENY_TCP}`,
      `pilot/pkg/security/authz/builder/testdata/tcp/deny-both-http-tcp-in.yaml:1 httpbin-deny: spec.rules[1]: ${DENY_TCP}`,
      `pilot/pkg/security/authz/builder/testdata/tcp/deny-both-http-tcp-in.yaml:1 httpbin-deny: spec.rules[2]: ${DENY_TCP}`,
      `pilot/pkg/security/authz/builder/testdata/tcp/deny-both-http-tcp-in.yaml:1 httpbin-deny: spec.rules[3]: ${DENY_TCP}`,
      `pilot/pkg/serviceregistry/ambient/testdata/deny-groups-in.yaml:1 groups-deny: spec.rules[3]: ${DENY_TCP}`,
    ]);
    // Istio warns on every EnvoyFilter.
    for (const o of outcomes.filter((x) => x.kind === 'EnvoyFilter')) {
      expect(o.warnings.some((w) => w.includes('EnvoyFilter exposes internal implementation details')), o.doc).toBe(true);
    }
  });
});

describe.skipIf(!existsSync(ROOT))('Istio corpus: CRD test documents Istio rejects (*-invalid.yaml)', () => {
  const { outcomes } = validateAll(files(CRDS, /-invalid\.yaml$/));
  const counts = countByKind(outcomes);
  console.log(`semantic-security corpus (rejected by Istio): ${outcomes.length} documents`, counts);

  // pkg/config/validation/openapi_test.go (TestCRDs) requires Istio's webhook to reject every
  // invalid document the CRD rejects, except where the difference is known. These documents
  // pass the semantic checks because the rejection happens elsewhere.
  const NOT_SEMANTIC: Record<string, string> = {
    'pkg/config/validation/testdata/crds/envoyfilter-invalid.yaml:17 waypoint-wrong-match': 'CRD CEL rule only (TestCRDs skips EnvoyFilter CEL: never implemented in the webhook)',
    'pkg/config/validation/testdata/crds/envoyfilter-invalid.yaml:34 waypoint-wrong-port': 'CRD CEL rule only (TestCRDs skips EnvoyFilter CEL: never implemented in the webhook)',
    'pkg/config/validation/testdata/crds/peerauth-invalid.yaml:1 bad-mode': 'unknown enum value: rejected while decoding (schema), not by ValidatePeerAuthentication',
    'pkg/config/validation/testdata/crds/reqauth-invalid.yaml:213 invalid-space-delimited-claims': 'CRD minLength only (TestCRDs: "webhook cannot handle \'\' vs unset")',
    'pkg/config/validation/testdata/crds/reqauth-invalid.yaml:224 invalid-presence-value': 'unknown enum value: rejected while decoding (schema)',
    'pkg/config/validation/testdata/crds/wasm-invalid.yaml:44 invalid-imagePullSecret': 'CRD minLength only (TestCRDs: "webhook cannot handle \'\' vs unset")',
    'pkg/config/validation/testdata/crds/wasm-invalid.yaml:53 invalid-pluginName': 'CRD minLength only (TestCRDs: "webhook cannot handle \'\' vs unset")',
  };

  // The semantic error each remaining document gets (a substring of the first error).
  const REJECTED: Record<string, string> = {
    'pkg/config/validation/testdata/crds/authz-invalid.yaml:1 service-account-and-namespace': 'cannot set serviceAccounts with namespaces or principals',
    'pkg/config/validation/testdata/crds/authz-invalid.yaml:13 service-account-and-namespace-principal': 'cannot set serviceAccounts with namespaces or principals',
    'pkg/config/validation/testdata/crds/envoyfilter-invalid.yaml:1 waypoint-wrong-context': 'Envoy filter: missing patch',
    'pkg/config/validation/testdata/crds/peerauth-invalid.yaml:10 bad-port': 'port must be in range 1..65535',
    'pkg/config/validation/testdata/crds/peerauth-invalid.yaml:23 port-level-global': 'mesh/namespace peer authentication cannot have port level mTLS',
    'pkg/config/validation/testdata/crds/peerauth-invalid.yaml:33 empty-port-level': 'port level mTLS, if defined, must have at least one element',
    'pkg/config/validation/testdata/crds/peerauth-invalid.yaml:44 zero-port': 'port must be in range 1..65535',
    'pkg/config/validation/testdata/crds/peerauth-invalid.yaml:57 high-port': 'port must be in range 1..65535',
    'pkg/config/validation/testdata/crds/proxyconfig-invalid.yaml:1 bad-concurrency': 'concurrency must be greater than or equal to 0',
    'pkg/config/validation/testdata/crds/proxyconfig-invalid.yaml:9 empty-key-selector': 'empty key is not supported in selector',
    'pkg/config/validation/testdata/crds/reqauth-invalid.yaml:4 multi-refs': 'only one of targetRefs or workloadSelector can be set',
    'pkg/config/validation/testdata/crds/reqauth-invalid.yaml:21 ref-and-selector': 'only one of targetRefs or workloadSelector can be set',
    'pkg/config/validation/testdata/crds/reqauth-invalid.yaml:35 bad-target-name': 'targetRef name must be set',
    'pkg/config/validation/testdata/crds/reqauth-invalid.yaml:45 bad-target-namespace': 'targetRef namespace must not be set',
    'pkg/config/validation/testdata/crds/reqauth-invalid.yaml:57 bad-target-group': 'targetRef namespace must not be set',
    'pkg/config/validation/testdata/crds/reqauth-invalid.yaml:69 bad-target-kind': 'targetRef namespace must not be set',
    'pkg/config/validation/testdata/crds/reqauth-invalid.yaml:81 no-issuer': 'issuer or jwksUri must be non-empty string',
    'pkg/config/validation/testdata/crds/reqauth-invalid.yaml:90 empty-aud': 'audience must be non-empty string',
    'pkg/config/validation/testdata/crds/reqauth-invalid.yaml:101 invalid-jwks': 'net/url: invalid control character in URL',
    'pkg/config/validation/testdata/crds/reqauth-invalid.yaml:111 invalid-from-headers-no-name': 'location header name must be non-empty string',
    'pkg/config/validation/testdata/crds/reqauth-invalid.yaml:122 invalid-from-headers-empty-name': 'location header name must be non-empty string',
    'pkg/config/validation/testdata/crds/reqauth-invalid.yaml:134 invalid-from-params': 'location query must be non-empty string',
    'pkg/config/validation/testdata/crds/reqauth-invalid.yaml:145 invalid-from-cookies': 'cookie name must be non-empty string',
    'pkg/config/validation/testdata/crds/reqauth-invalid.yaml:156 invalid-claim-to-header-unset': 'outputClaimToHeaders header and claim value must be non-empty string',
    'pkg/config/validation/testdata/crds/reqauth-invalid.yaml:167 invalid-claim-to-header-claim-empty': 'outputClaimToHeaders header and claim value must be non-empty string',
    'pkg/config/validation/testdata/crds/reqauth-invalid.yaml:179 invalid-claim-to-header-header-empty': 'outputClaimToHeaders header and claim value must be non-empty string',
    'pkg/config/validation/testdata/crds/reqauth-invalid.yaml:191 invalid-claim-to-header-bad-header': 'header name :authority is not a valid header name',
    'pkg/config/validation/testdata/crds/reqauth-invalid.yaml:203 bad-timeout': 'bad Duration: time: invalid duration "apple"',
    'pkg/config/validation/testdata/crds/telemetry-invalid.yaml:1 bad-provider': 'providers.name may not be empty',
    'pkg/config/validation/testdata/crds/telemetry-invalid.yaml:11 bad-custom-metric': 'customMetric may not be empty',
    'pkg/config/validation/testdata/crds/telemetry-invalid.yaml:22 bad-tag-upsert': 'tagOverrides.value must be set when operation is UPSERT',
    'pkg/config/validation/testdata/crds/telemetry-invalid.yaml:34 bad-tag-remove': 'tagOverrides.value may only be set when operation is UPSERT',
    'pkg/config/validation/testdata/crds/wasm-invalid.yaml:1 unset-port': 'url field needs to be set',
    'pkg/config/validation/testdata/crds/wasm-invalid.yaml:11 unset-url': 'url field needs to be set',
    'pkg/config/validation/testdata/crds/wasm-invalid.yaml:19 invalid-url': 'failed to parse url',
    'pkg/config/validation/testdata/crds/wasm-invalid.yaml:27 invalid-url-schema': 'url contains unsupported scheme: fake',
    'pkg/config/validation/testdata/crds/wasm-invalid.yaml:35 invalid-sha256': 'sha256 field must be 64 characters long',
    'pkg/config/validation/testdata/crds/wasm-invalid.yaml:62 duplicate-env': 'duplicate env',
    'pkg/config/validation/testdata/crds/wasm-invalid.yaml:74 invalid-env-name': 'spec.vmConfig.env invalid',
    'pkg/config/validation/testdata/crds/wasm-invalid.yaml:85 invalid-env-name': 'value may only be set when valueFrom is INLINE',
    'pkg/config/validation/testdata/crds/wasm-invalid.yaml:98 invalid-env-name': 'value may only be set when valueFrom is INLINE',
    'pkg/config/validation/testdata/crds/wasm-invalid.yaml:111 nil': 'url field needs to be set',
    'pkg/config/validation/testdata/crds/wasm-invalid.yaml:118 nested-nil': 'url field needs to be set',
    'pkg/config/validation/testdata/crds/wasm-invalid.yaml:126 invalid-selector': 'wildcard is not supported in selector: "istio=bar*"',
    'pkg/config/validation/testdata/crds/wasm-invalid.yaml:137 invalid-selector': 'wildcard is not supported in selector: "istio*=bar"',
  };

  it('reads every document it should', () => {
    expect(outcomes.length).toBe(Object.keys(NOT_SEMANTIC).length + Object.keys(REJECTED).length);
  });

  it('rejects each one Istio rejects semantically, with Istio\'s reason', () => {
    const got: Record<string, string> = {};
    for (const o of outcomes) if (o.errors.length > 0) got[o.doc] = o.errors[0]!;
    expect(Object.keys(got).sort()).toEqual(Object.keys(REJECTED).sort());
    for (const [doc, reason] of Object.entries(REJECTED)) expect(got[doc], doc).toContain(reason);
  });

  it('accepts only the documents whose rejection is not semantic', () => {
    const accepted = outcomes.filter((o) => o.errors.length === 0).map((o) => o.doc);
    expect(accepted.sort()).toEqual(Object.keys(NOT_SEMANTIC).sort());
  });
});
