/**
 * Telemetry API resolution. Most cases are Istio's own tables (pilot/pkg/model/telemetry_test.go:
 * TestTelemetryFilters, TestTracing; telemetry_logging_test.go: TestAccessLogging,
 * TestAccessLoggingWithFilter), translated from Go literals, with Istio's test mesh config
 * (DefaultMeshConfig's providers plus `envoy-json`).
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadObjects, loadPaths } from '../src/load/loader.js';
import type { Resource } from '../src/load/resource.js';
import type { WorkloadIdentity } from '../src/mesh.js';
import {
  compileLogFilter, compileTagValue, compileTelemetry, DEFAULT_TELEMETRY_PROVIDERS, ISTIO_STANDARD_TAGS,
  type CompiledTelemetry, type TelemetryMeshConfig, type TelemetryProvider,
} from '../src/compile/telemetry.js';
import { CORPUS } from './support/corpus.js';

const sidecar: WorkloadIdentity = { namespace: 'default', labels: { app: 'test' } };
const PROVIDERS: TelemetryProvider[] = [...DEFAULT_TELEMETRY_PROVIDERS, { name: 'envoy-json', kind: 'envoyFileAccessLog', logFormat: 'json' }];

let seq = 0;
/** telemetry_test.go: newTelemetry — named `default`, in load order (no creation time). */
function tel(ns: string, spec: unknown, name = 'default'): Resource {
  const r = loadObjects([{ apiVersion: 'telemetry.istio.io/v1', kind: 'Telemetry', metadata: { name, namespace: ns }, spec }], '<test>', seq++);
  expect(r.diagnostics).toEqual([]);
  return r.resources[0]!;
}

function compile(cfgs: Resource[], mesh: TelemetryMeshConfig = {}, w: WorkloadIdentity = sidecar): CompiledTelemetry {
  return compileTelemetry(cfgs, w, { extensionProviders: PROVIDERS, defaultProviders: {}, ...mesh });
}

// ---- Istio's stats filter config, rendered back from the compiled form (generateStatsConfig) ----

function statsConfig(t: CompiledTelemetry, mode: 'client' | 'server' = 'client'): Record<string, unknown> | undefined {
  const m = t.metrics[mode];
  if (!t.metrics.provider || !m.enabled) return undefined;
  const metrics = [...m.overrides.values()].map((o) => {
    const dims: Record<string, string> = {};
    const remove: string[] = [];
    for (const tag of o.tags) {
      if (tag.operation === 'REMOVE') remove.push(tag.name);
      else dims[tag.name] = tag.value.expression;
    }
    return { name: o.metric, ...(Object.keys(dims).length ? { dimensions: dims } : {}), ...(remove.length ? { tags_to_remove: remove } : {}), ...(o.disabled ? { drop: true } : {}) };
  });
  return { ...(metrics.length ? { metrics: metrics.sort((a, b) => a.name.localeCompare(b.name)) } : {}), ...(t.metrics.reportingIntervalMs !== undefined ? { tcp_reporting_duration: t.metrics.reportingIntervalMs } : {}) };
}

const overrides = [{ match: { metric: 'REQUEST_COUNT' }, tagOverrides: { remove: { operation: 'REMOVE' }, add: { operation: 'UPSERT', value: 'bar' } } }];
const emptyPrometheus = { metrics: [{ providers: [{ name: 'prometheus' }] }] };
const disabledAllMetrics = { metrics: [{ overrides: [{ match: { metric: 'ALL_METRICS' }, disabled: true }], providers: [{ name: 'prometheus' }] }] };
const reenable = { metrics: [{ providers: [{ name: 'prometheus' }], overrides: [{ match: { metric: 'ALL_METRICS' } }] }] };
const overridesPrometheus = { metrics: [{ providers: [{ name: 'prometheus' }], overrides }] };
// "remove" is not a standard tag: the stats filter ignores its removal ("Tag is not standard").
const cfg = { metrics: [{ name: 'requests_total', dimensions: { add: 'bar' } }] };
const ALL = ['request_bytes', 'request_duration_milliseconds', 'request_messages_total', 'requests_total', 'response_bytes', 'response_messages_total', 'tcp_connections_closed_total', 'tcp_connections_opened_total', 'tcp_received_bytes_total', 'tcp_sent_bytes_total'];

describe('metrics (TestTelemetryFilters)', () => {
  const cases: { name: string; cfgs: () => Resource[]; defaults?: string[]; want: Record<string, unknown> | undefined }[] = [
    { name: 'empty', cfgs: () => [], want: undefined },
    { name: 'disabled-prometheus', cfgs: () => [tel('istio-system', disabledAllMetrics)], want: undefined },
    { name: 'disabled-prometheus-implicit', cfgs: () => [tel('istio-system', { metrics: [{ overrides: [{ disabled: true }], providers: [{ name: 'prometheus' }] }] })], want: undefined },
    { name: 'disabled-then-empty', cfgs: () => [tel('istio-system', disabledAllMetrics), tel('default', emptyPrometheus)], want: undefined },
    { name: 'disabled-then-reenable', cfgs: () => [tel('istio-system', disabledAllMetrics), tel('default', reenable)], want: { metrics: ALL.map((name) => ({ name })) } },
    { name: 'disabled-then-overrides', cfgs: () => [tel('istio-system', disabledAllMetrics), tel('default', overridesPrometheus)], want: cfg },
    { name: 'default prometheus', cfgs: () => [tel('istio-system', emptyPrometheus)], want: {} },
    { name: 'default provider prometheus', cfgs: () => [], defaults: ['prometheus'], want: {} },
    { name: 'prometheus overrides', cfgs: () => [tel('istio-system', overridesPrometheus)], want: cfg },
    {
      name: 'prometheus overrides all metrics first',
      cfgs: () => [tel('istio-system', { metrics: [{ providers: [{ name: 'prometheus' }], overrides: [
        { tagOverrides: { remove: { operation: 'REMOVE' }, add: { operation: 'UPSERT', value: 'bar' } } },
        { match: { metric: 'REQUEST_COUNT' }, tagOverrides: { add: { value: 'add-override' } } },
      ] }] })],
      want: { metrics: ALL.map((name) => ({ name, dimensions: { add: name === 'requests_total' ? 'add-override' : 'bar' } })) },
    },
    {
      name: 'prometheus overrides all metrics secondary',
      cfgs: () => [tel('istio-system', { metrics: [{ providers: [{ name: 'prometheus' }], overrides: [
        { match: { metric: 'REQUEST_COUNT' }, tagOverrides: { add: { value: 'add-override' } } },
        { tagOverrides: { remove: { operation: 'REMOVE' }, add: { operation: 'UPSERT', value: 'bar' } } },
      ] }] })],
      want: { metrics: ALL.map((name) => ({ name, dimensions: { add: 'bar' } })) },
    },
    { name: 'reporting-interval', cfgs: () => [tel('istio-system', { metrics: [{ providers: [{ name: 'prometheus' }], reportingInterval: '15s' }] })], want: { tcp_reporting_duration: 15000 } },
    {
      name: 'override-interval',
      cfgs: () => [tel('istio-system', { metrics: [{ providers: [{ name: 'prometheus' }], reportingInterval: '15s' }] }), tel('default', { metrics: [{ providers: [{ name: 'prometheus' }], reportingInterval: '10s' }] })],
      want: { tcp_reporting_duration: 10000 },
    },
    { name: 'namespace overrides merge without provider', cfgs: () => [tel('istio-system', emptyPrometheus), tel('default', { metrics: [{ overrides }] })], want: cfg },
    { name: 'namespace overrides merge with default provider', cfgs: () => [tel('default', { metrics: [{ overrides }] })], defaults: ['prometheus'], want: cfg },
    { name: 'targetRef is ignored by sidecars', cfgs: () => [tel('default', { targetRefs: [{ group: '', kind: 'Service', name: 'sample-svc' }], metrics: [{ overrides }] })], defaults: ['prometheus'], want: {} },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(statsConfig(compile(c.cfgs(), { defaultProviders: { metrics: c.defaults ?? [] } }))).toEqual(c.want);
    });
  }

  it('Meshwork defaults to the prometheus provider, as Istio installs do', () => {
    const t = compileTelemetry([], sidecar);
    expect(t.metrics.provider).toBe('prometheus');
    expect(t.metrics.client.enabled && t.metrics.server.enabled).toBe(true);
  });

  it('disables one reporter with match.mode, and re-enables it lower down with disabled: false', () => {
    const off = tel('istio-system', { metrics: [{ overrides: [{ match: { metric: 'ALL_METRICS', mode: 'SERVER' }, disabled: true }] }] });
    let t = compile([off], { defaultProviders: { metrics: ['prometheus'] } });
    expect([t.metrics.client.enabled, t.metrics.server.enabled]).toEqual([true, false]);
    const on = tel('default', { metrics: [{ overrides: [{ match: { metric: 'REQUEST_COUNT', mode: 'SERVER' }, disabled: false }] }] });
    t = compile([off, on], { defaultProviders: { metrics: ['prometheus'] } });
    expect([t.metrics.client.enabled, t.metrics.server.enabled]).toEqual([true, true]);
    expect(t.metrics.server.overrides.get('requests_total')?.disabled).toBe(false);
  });

  it('drops one metric and keeps the others', () => {
    const t = compile([tel('default', { metrics: [{ overrides: [{ match: { metric: 'REQUEST_SIZE' }, disabled: true }, { match: { metric: 'RESPONSE_SIZE', mode: 'CLIENT' }, disabled: true }] }] })], { defaultProviders: { metrics: ['prometheus'] } });
    expect(t.metrics.server.overrides.get('request_bytes')?.disabled).toBe(true);
    expect(t.metrics.server.overrides.get('response_bytes')).toBeUndefined();
    expect(t.metrics.client.overrides.get('response_bytes')?.disabled).toBe(true);
  });

  it('records no metrics when the providers in scope are not Prometheus', () => {
    const t = compile([tel('istio-system', { metrics: [{ providers: [{ name: 'stackdriver' }] }] })], { defaultProviders: { metrics: ['prometheus'] } });
    expect(t.metrics.provider).toBeNull();
    expect(t.metrics.client.enabled).toBe(false);
  });

  it('standard tags: REMOVE, UPSERT; new tags: UPSERT only', () => {
    const t = compile([tel('default', { metrics: [{ overrides: [{ tagOverrides: {
      source_principal: { operation: 'REMOVE' },
      request_host: { value: 'request.host' },
      destination_port: { value: 'string(destination.port)' },
      user: { value: "request.headers['X-User']" },
      team: { value: "'payments'" },
      response_code: { value: 'add' },
      broken: { value: 'request.host ==' },
      destination_app: { value: 'request.host +' },
    } }] }] })], { defaultProviders: { metrics: ['prometheus'] } });
    const tags = t.metrics.client.overrides.get('requests_total')!.tags;
    const attrs = { request: { host: 'reviews:9080', headers: { 'x-user': 'jason' } }, destination: { port: 9080 } };
    const byName = Object.fromEntries(tags.map((x) => [x.name, x.operation === 'REMOVE' ? 'REMOVE' : `${x.value.kind}:${x.value.evaluate(attrs)}`]));
    expect(byName).toEqual({
      source_principal: 'REMOVE',
      request_host: 'attribute:reviews:9080',
      destination_port: 'attribute:9080',
      user: 'attribute:jason',
      team: 'literal:payments',
      response_code: 'unknown:unknown', // an identifier Envoy cannot resolve: evaluation error
      destination_app: 'REMOVE', // does not parse: the stats filter drops the standard tag
      // `broken` does not parse and is not standard: nothing is added
    });
    const msgs = t.diagnostics.map((d) => `${d.severity}: ${d.path}: ${d.message}`);
    expect(msgs.some((m) => m.startsWith('warning') && m.includes('tagOverrides["response_code"].value') && m.includes('unknown'))).toBe(true);
    expect(msgs.some((m) => m.includes('tagOverrides["broken"].value') && m.includes('does not add the label'))).toBe(true);
    // Reported once, not once per metric.
    expect(msgs.filter((m) => m.includes('"response_code"')).length).toBe(1);
  });
});

describe('tag values', () => {
  it.each([
    ["'lit'", 'literal', 'lit'],
    ['"dq"', 'literal', 'dq'],
    ['42', 'literal', '42'],
    ['true', 'literal', 'true'],
    ['request.method', 'attribute', 'GET'],
    ['response.code', 'attribute', '503'],
    ['string(response.code)', 'attribute', '503'],
    ['connection.mtls', 'attribute', 'false'],
    ['request.headers["x-missing"]', 'attribute', 'unknown'],
    ['xds.cluster_name', 'attribute', 'unknown'],
    ['request.host.size() > 3', 'unknown', 'unknown'],
  ])('%s', (expr, kind, value) => {
    const r = compileTagValue(expr);
    expect(r.value.kind).toBe(kind);
    expect(r.value.evaluate({ request: { method: 'GET', headers: {} }, response: { code: 503 }, connection: { mtls: false } })).toBe(value);
  });
});

// ---- tracing (TestTracing) ----

describe('tracing (TestTracing)', () => {
  const envoy = { tracing: [{ providers: [{ name: 'envoy' }] }] };
  const stackdriver = { tracing: [{ providers: [{ name: 'stackdriver' }] }] };
  const disabled = { tracing: [{ disableSpanReporting: true }] };
  const overridesA = { tracing: [{ randomSamplingPercentage: 50, customTags: { foo: { literal: { value: 'a' } }, bar: { literal: { value: 'b' } } }, useRequestIdForTraceSampling: false, enableIstioTags: false }] };
  const overridesB = { tracing: [{ randomSamplingPercentage: 80, customTags: { foo: { literal: { value: 'c' } }, baz: { header: { name: 'X-Baz', defaultValue: 'none' } } }, useRequestIdForTraceSampling: true, enableIstioTags: true }] };
  const summary = (t: CompiledTelemetry) =>
    t.tracing && {
      client: { provider: t.tracing.client.provider?.name ?? null, disabled: t.tracing.client.disabled, pct: t.tracing.client.samplingPercentage },
      server: { provider: t.tracing.server.provider?.name ?? null, disabled: t.tracing.server.disabled, pct: t.tracing.server.samplingPercentage },
    };
  const both = (provider: string | null, disabled: boolean, pct = 1) => ({ client: { provider, disabled, pct }, server: { provider, disabled, pct } });

  it.each([
    ['empty', () => [], [], null],
    ['default provider only', () => [], ['envoy'], both('envoy', false)],
    ['provider only', () => [tel('istio-system', envoy)], [], both('envoy', false)],
    ['override default', () => [tel('istio-system', envoy)], ['stackdriver'], both('envoy', false)],
    ['override namespace', () => [tel('istio-system', envoy), tel('default', stackdriver)], [], both('stackdriver', false)],
    ['empty config inherits', () => [tel('istio-system', envoy), tel('default', { tracing: [{}] })], [], both('envoy', false)],
    ['disable config', () => [tel('istio-system', envoy), tel('default', disabled)], [], both('envoy', true)],
    ['disable default', () => [tel('default', disabled)], ['envoy'], both('envoy', true)],
    ['non existing', () => [tel('default', { tracing: [{ providers: [{ name: 'custom-provider' }] }] })], ['envoy'], both(null, true)],
    ['client-only override', () => [tel('istio-system', envoy), tel('default', { tracing: [{ match: { mode: 'CLIENT' }, providers: [{ name: 'stackdriver' }], randomSamplingPercentage: 99.9 }] })], ['envoy'],
      { client: { provider: 'stackdriver', disabled: false, pct: 99.9 }, server: { provider: 'envoy', disabled: false, pct: 1 } }],
    ['server-only override', () => [tel('istio-system', envoy), tel('default', { tracing: [{ match: { mode: 'SERVER' }, disableSpanReporting: true }] })], ['envoy'],
      { client: { provider: 'envoy', disabled: false, pct: 1 }, server: { provider: 'envoy', disabled: true, pct: 1 } }],
  ] as const)('%s', (_name, cfgs, defaults, want) => {
    expect(summary(compile(cfgs(), { defaultProviders: { tracing: [...defaults] } }))).toEqual(want);
  });

  it('multi overrides: the namespace level replaces sampling and the whole customTags map', () => {
    const t = compile([tel('istio-system', overridesA), tel('default', overridesB)], { defaultProviders: { tracing: ['envoy'] } });
    expect(t.tracing!.client).toMatchObject({ randomSamplingPercentage: 80, samplingPercentage: 80, useRequestIdForTraceSampling: true, enableIstioTags: true });
    expect(t.tracing!.server.customTags).toEqual([
      { tag: 'baz', kind: 'header', name: 'x-baz', defaultValue: 'none' },
      { tag: 'foo', kind: 'literal', value: 'c' },
    ]);
  });

  it('falls back to the mesh sampling, and keeps disableContextPropagation', () => {
    const t = compile([tel('istio-system', envoy), tel('default', { tracing: [{ disableContextPropagation: true }] })], { defaultTracingSampling: 10 });
    expect(t.tracing!.client).toMatchObject({ samplingPercentage: 10, disableContextPropagation: true });
    expect(t.tracing!.client.randomSamplingPercentage).toBeUndefined();
  });

  it('explains why a Telemetry without a provider traces nothing', () => {
    const t = compile([tel('default', { tracing: [{ randomSamplingPercentage: 10 }] })]);
    expect(t.tracing!.client.disabled).toBe(true);
    expect(t.diagnostics.map((d) => d.message)).toContain('tracing names no provider and the mesh has no default tracing provider; Istio reports no spans');
  });

  it('skips formatter tags with a warning', () => {
    const t = compile([tel('default', { tracing: [{ providers: [{ name: 'envoy' }], customTags: { f: { formatter: { value: '%REQ(:PATH)%' } }, e: { environment: { name: 'POD', defaultValue: 'x' } } } }] })]);
    expect(t.tracing!.client.customTags).toEqual([{ tag: 'e', kind: 'environment', name: 'POD', defaultValue: 'x' }]);
    expect(t.diagnostics.some((d) => d.severity === 'warning' && d.path === 'spec.tracing[0].customTags["f"]')).toBe(true);
  });
});

// ---- access logging (TestAccessLogging, TestAccessLoggingWithFilter) ----

describe('access logging (TestAccessLogging)', () => {
  const provider = (name: string) => ({ providers: [{ name }] });
  const envoy = { accessLogging: [provider('envoy')] };
  const client = { accessLogging: [{ match: { mode: 'CLIENT' }, ...provider('envoy') }] };
  const clientDisabled = { accessLogging: [{ match: { mode: 'CLIENT' }, ...provider('envoy'), disabled: true }] };
  const sidecarClient = { selector: { matchLabels: { app: 'test' } }, ...client };
  const server = { accessLogging: [{ match: { mode: 'SERVER' }, ...provider('envoy') }] };
  const serverDisabled = { accessLogging: [{ match: { mode: 'SERVER' }, ...provider('envoy'), disabled: true }] };
  const serverAndClient = { accessLogging: [{ match: { mode: 'CLIENT_AND_SERVER' }, ...provider('envoy') }] };
  const stackdriver = { accessLogging: [provider('stackdriver')] };
  const defaultJSON = { accessLogging: [provider('envoy-json')] };
  const disabled = { accessLogging: [{ disabled: true }] };
  const multiFilters = { accessLogging: [{ match: { mode: 'SERVER' }, ...provider('envoy') }, { match: { mode: 'CLIENT_AND_SERVER' }, ...provider('envoy') }] };
  const multiFiltersDisabled = { accessLogging: [{ match: { mode: 'SERVER' }, ...provider('envoy') }, { match: { mode: 'CLIENT_AND_SERVER' }, ...provider('envoy'), disabled: true }] };
  const differ = { accessLogging: [{ match: { mode: 'SERVER' }, ...provider('envoy') }, { match: { mode: 'CLIENT' }, ...provider('envoy-json') }] };

  const cases: [string, () => Resource[], 'client' | 'server', string[], string[] | null][] = [
    ['empty', () => [], 'client', [], null],
    ['prometheus-mesh', () => [tel('istio-system', { metrics: [provider('envoy')] })], 'client', [], null],
    ['default provider only', () => [], 'client', ['envoy'], ['envoy']],
    ['provider only', () => [tel('istio-system', envoy)], 'client', [], ['envoy']],
    ['client - outbound', () => [tel('istio-system', client)], 'client', [], ['envoy']],
    ['client - inbound', () => [tel('istio-system', client)], 'server', [], []],
    ['client - disabled server', () => [tel('istio-system', client), tel('default', serverDisabled)], 'client', [], ['envoy']],
    ['client - disabled client', () => [tel('istio-system', client), tel('default', clientDisabled)], 'client', [], []],
    ['client - disabled - enabled', () => [tel('istio-system', client), tel('default', clientDisabled), tel('default', sidecarClient)], 'client', [], ['envoy']],
    ['server - inbound', () => [tel('istio-system', server)], 'server', [], ['envoy']],
    ['server - outbound', () => [tel('istio-system', server)], 'client', [], []],
    ['server and client - inbound', () => [tel('istio-system', serverAndClient)], 'server', [], ['envoy']],
    ['server and client - outbound', () => [tel('istio-system', serverAndClient)], 'client', [], ['envoy']],
    ['override default', () => [tel('istio-system', envoy)], 'client', ['stackdriver'], ['envoy']],
    ['override namespace', () => [tel('istio-system', envoy), tel('default', defaultJSON)], 'client', [], ['envoy-json']],
    ['empty config inherits', () => [tel('istio-system', envoy), tel('default', { accessLogging: [{}] })], 'client', [], ['envoy']],
    ['stackdriver', () => [tel('istio-system', envoy), tel('default', stackdriver)], 'client', [], []],
    ['default envoy JSON', () => [tel('istio-system', defaultJSON)], 'client', [], ['envoy-json']],
    ['disable config', () => [tel('istio-system', envoy), tel('default', disabled)], 'client', [], []],
    ['disable default', () => [tel('default', disabled)], 'client', ['envoy'], []],
    ['non existing', () => [tel('default', { accessLogging: [provider('custom-provider')] })], 'client', ['envoy'], []],
    ['server - multi filters', () => [tel('istio-system', multiFilters)], 'client', [], ['envoy']],
    ['server - multi filters disabled', () => [tel('istio-system', multiFiltersDisabled)], 'client', [], []],
    ['multi accesslogging', () => [tel('istio-system', envoy), tel('default', { accessLogging: [provider('envoy'), provider('envoy-json')] })], 'client', [], ['envoy', 'envoy-json']],
    ['multi accesslogging with disabled', () => [tel('istio-system', envoy), tel('default', { accessLogging: [provider('envoy'), { ...provider('envoy-json'), disabled: true }] })], 'client', [], ['envoy']],
    ['multi accesslogging - multi providers', () => [tel('istio-system', envoy), tel('default', { accessLogging: [{ providers: [{ name: 'envoy' }, { name: 'envoy-json' }] }, provider('envoy')] })], 'client', [], ['envoy', 'envoy-json']],
    ['server and client different - inbound', () => [tel('istio-system', differ)], 'server', [], ['envoy']],
    ['server and client different - outbound', () => [tel('istio-system', differ)], 'client', [], ['envoy-json']],
  ];
  for (const [name, cfgs, mode, defaults, want] of cases) {
    it(name, () => {
      const t = compile(cfgs(), { defaultProviders: { accessLogging: defaults } });
      expect(t.accessLogging ? t.accessLogging[mode].sinks.map((s) => s.provider.name) : null).toEqual(want);
      if (t.accessLogging) expect(t.accessLogging[mode].enabled).toBe(want!.length > 0);
    });
  }

  const filtered = (ns: string, ...exprs: (string | null)[]) => tel(ns, { accessLogging: exprs.map((e) => ({ ...provider('envoy-json'), ...(e ? { filter: { expression: e } } : {}) })) });
  it.each([
    ['filter', () => [filtered('default', 'response.code >= 400')], 'response.code >= 400'],
    ['namespace-filter', () => [filtered('istio-system', 'response.code >= 400'), filtered('default', 'response.code >= 500')], 'response.code >= 500'],
    ['multi-accesslogging', () => [filtered('default', 'response.code >= 500', 'response.code >= 400')], 'response.code >= 400'],
    ['multi-accesslogging-nil', () => [filtered('default', 'response.code >= 500', null)], null],
    ['server-and-client-different', () => [tel('default', { accessLogging: [
      { match: { mode: 'CLIENT' }, ...provider('envoy-json'), filter: { expression: 'response.code >= 500' } },
      { match: { mode: 'SERVER' }, ...provider('envoy-json'), filter: { expression: 'response.code >= 400' } },
    ] })], 'response.code >= 500'],
  ] as const)('filter: %s (TestAccessLoggingWithFilter)', (_n, cfgs, want) => {
    const t = compile(cfgs(), { defaultProviders: { accessLogging: ['envoy'] } });
    const sinks = t.accessLogging!.client.sinks;
    expect(sinks.map((s) => [s.provider.name, s.filter?.expression ?? null])).toEqual([['envoy-json', want]]);
  });
});

describe('access-log filters (CEL over Envoy attributes)', () => {
  const ok = (e: string) => {
    const r = compileLogFilter(e);
    expect(r.ok).toBe(true);
    return r.filter;
  };
  it('evaluates codes, headers, mTLS and durations', () => {
    expect(ok('response.code >= 400').matches({ response: { code: 503 } })).toBe(true);
    expect(ok('response.code >= 400').matches({ response: { code: 200 } })).toBe(false);
    const h = ok("request.headers['x-debug'] == 'on' || connection.mtls");
    expect(h.matches({ request: { headers: { 'x-debug': 'on' } } })).toBe(true);
    // CEL's || and && absorb an error when the other side decides (cel-spec), as in Envoy.
    expect(h.matches({ request: { headers: {} }, connection: { mtls: true } })).toBe(true);
    expect(h.matches({ request: { headers: {} }, connection: { mtls: false } })).toBe(false); // missing header: evaluation error, not logged
    expect(ok("request.headers['x-debug'] == 'on'").matches({ request: { headers: {} } })).toBe(false);
    expect(ok('request.duration > duration("1s")').matches({ request: { duration: 1500 } })).toBe(true);
    expect(ok('request.duration > duration("1s")').matches({ request: { duration: 999 } })).toBe(false);
    expect(ok("'x-debug' in request.headers").matches({ request: { headers: { 'x-debug': '1' } } })).toBe(true);
  });
  it('treats a missing attribute as "do not log"', () => {
    expect(ok('response.code >= 400').matches({})).toBe(false);
  });
  it('reports expressions that do not parse, and attributes Meshwork does not know', () => {
    expect(compileLogFilter('response.code >=')).toMatchObject({ ok: false, kind: 'parse' });
    const u = compileLogFilter("filter_state['wasm.upstream_peer'] != ''");
    expect(u).toMatchObject({ ok: false, kind: 'unsupported' });
    expect(u.filter.matches({})).toBe(false);
    expect(compileLogFilter('response.code')).toMatchObject({ ok: false, kind: 'unsupported' });
  });
  it('is compiled once per expression', () => {
    expect(compileLogFilter('response.code == 418')).toBe(compileLogFilter('response.code == 418'));
  });
  it('surfaces filter problems as diagnostics with the field path', () => {
    const t = compile([tel('default', { accessLogging: [{ providers: [{ name: 'envoy' }], filter: { expression: 'upstream_peer.app == "x"' } }] })]);
    expect(t.diagnostics).toEqual([expect.objectContaining({ severity: 'warning', resource: 'Telemetry/default/default', path: 'spec.accessLogging[0].filter.expression' })]);
  });
});

describe('selection and precedence (applicableTelemetries)', () => {
  const sampling = (pct: number, extra: object = {}) => ({ ...extra, tracing: [{ providers: [{ name: 'envoy' }], randomSamplingPercentage: pct }] });
  const pct = (t: CompiledTelemetry) => t.tracing?.client.samplingPercentage;

  it('applies root, then namespace, then workload selector', () => {
    const cfgs = [tel('istio-system', sampling(1), 'mesh'), tel('default', sampling(2), 'ns'), tel('default', sampling(3, { selector: { matchLabels: { app: 'test' } } }), 'wl')];
    const t = compile(cfgs);
    expect(t.sources).toEqual(['istio-system/mesh', 'default/ns', 'default/wl']);
    expect(pct(t)).toBe(3);
    expect(pct(compile(cfgs, {}, { namespace: 'default', labels: { app: 'other' } }))).toBe(2);
    expect(pct(compile(cfgs, {}, { namespace: 'prod', labels: { app: 'test' } }))).toBe(1);
  });

  it('keeps only the oldest namespace-wide Telemetry per namespace', () => {
    const older = loadObjects([{ apiVersion: 'telemetry.istio.io/v1', kind: 'Telemetry', metadata: { name: 'b', namespace: 'default', creationTimestamp: '2024-01-01T00:00:00Z' }, spec: sampling(7) }]).resources[0]!;
    const newer = loadObjects([{ apiVersion: 'telemetry.istio.io/v1', kind: 'Telemetry', metadata: { name: 'a', namespace: 'default', creationTimestamp: '2025-01-01T00:00:00Z' }, spec: sampling(8) }]).resources[0]!;
    const t = compile([newer, older]);
    expect(t.sources).toEqual(['default/b']);
    expect(pct(t)).toBe(7);
  });

  it('applies every matching selector Telemetry, oldest first (the last one wins per field)', () => {
    const t = compile([tel('default', sampling(4, { selector: { matchLabels: { app: 'test' } } }), 'x'), tel('default', { selector: { matchLabels: { app: 'test' } }, tracing: [{ disableSpanReporting: true }] }, 'y')]);
    expect(t.sources).toEqual(['default/x', 'default/y']);
    expect(t.tracing!.client).toMatchObject({ samplingPercentage: 4, disabled: true });
  });

  it('ignores a root-namespace selector Telemetry outside the root namespace, with a note', () => {
    const r = tel('istio-system', sampling(9, { selector: { matchLabels: { app: 'test' } } }), 'sel');
    const t = compile([r]);
    expect(t.tracing).toBeNull();
    expect(t.diagnostics[0]).toMatchObject({ severity: 'info', resource: 'Telemetry/istio-system/sel' });
    expect(pct(compile([r], {}, { namespace: 'istio-system', labels: { app: 'test' } }))).toBe(9);
  });

  it('ignores targetRef Telemetry (gateways and waypoints only), and an empty selector is namespace-wide', () => {
    const t = compile([tel('default', sampling(5, { targetRef: { kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'gw' } }), 'tr'), tel('default', sampling(6, { selector: { matchLabels: {} } }), 'empty')]);
    expect(t.sources).toEqual(['default/empty']);
    expect(t.diagnostics.some((d) => d.resource === 'Telemetry/default/tr' && d.code === 'ignored')).toBe(true);
  });

  it('warns once about a provider the mesh does not define', () => {
    const t = compile([tel('default', { tracing: [{ providers: [{ name: 'otel-tracing' }] }], accessLogging: [{ providers: [{ name: 'otel-tracing' }] }] })]);
    expect(t.diagnostics.filter((d) => d.message.includes('"otel-tracing"'))).toHaveLength(1);
  });
});

describe('the Telemetry YAML of the Istio corpus', () => {
  const files = [
    'samples/open-telemetry/tracing/telemetry.yaml',
    'samples/open-telemetry/loki/telemetry.yaml',
    'pkg/config/validation/testdata/crds/telemetry-valid.yaml',
    'pkg/config/validation/testdata/crds/telemetry-invalid.yaml',
    'pkg/test/datasets/validation/dataset/telemetry-v1-Telemetry.yaml',
    'pkg/test/datasets/validation/dataset/telemetry-v1alpha1-Telemetry.yaml',
  ];
  const workloads: WorkloadIdentity[] = [sidecar, { namespace: 'istio-system', labels: {} }, { namespace: 'other', labels: { app: 'x' } }];
  it.each(files)('%s compiles for every workload without throwing', (f) => {
    const { resources } = loadPaths([join(CORPUS, f)]);
    const telemetries = resources.filter((r) => r.kind === 'Telemetry');
    expect(telemetries.length).toBeGreaterThan(0);
    for (const w of workloads) {
      for (const mesh of [{}, { extensionProviders: [...PROVIDERS, { name: 'otel', kind: 'envoyOtelAls' as const }, { name: 'otel-tracing', kind: 'opentelemetry' as const }, { name: 'otlp', kind: 'opentelemetry' as const }, { name: 'stdout', kind: 'envoyFileAccessLog' as const }] }]) {
        const t = compileTelemetry(telemetries, w, mesh);
        expect(t.metrics).toBeDefined();
        expect(t.diagnostics.every((d) => d.severity !== 'error')).toBe(true);
      }
    }
  });

  it('telemetry-valid.yaml: the "full" resource resolves as Istio would', () => {
    const { resources } = loadPaths([join(CORPUS, 'pkg/config/validation/testdata/crds/telemetry-valid.yaml')]);
    const full = resources.find((r) => r.metadata.name === 'full')!;
    const t = compileTelemetry([full], { namespace: full.metadata.namespace, labels: {} }, {
      extensionProviders: [...DEFAULT_TELEMETRY_PROVIDERS, { name: 'otlp', kind: 'opentelemetry' }, { name: 'stdout', kind: 'envoyFileAccessLog' }],
      rootNamespace: 'istio-system',
    });
    expect(t.metrics.reportingIntervalMs).toBe(5000);
    expect(t.metrics.client.overrides.get('request_messages_total')?.disabled).toBe(true);
    expect(t.tracing!.server).toMatchObject({ provider: { name: 'otlp' }, samplingPercentage: 54.54, disabled: false });
    expect(t.tracing!.server.customTags.map((c) => c.kind)).toEqual(['environment', 'header', 'literal']);
    expect(t.accessLogging!.client.sinks.map((s) => [s.provider.name, s.filter?.matches({})])).toEqual([['stdout', true]]);
    expect(t.accessLogging!.server.enabled).toBe(false);
    // customMetric "foo" is not a metric the stats filter defines.
    expect(t.diagnostics.some((d) => d.message.includes('custom metric "foo"'))).toBe(true);
  });
});

it('lists the same standard tags as the stats filter', () => {
  expect(ISTIO_STANDARD_TAGS).toHaveLength(25);
  expect(new Set(ISTIO_STANDARD_TAGS).size).toBe(25);
});
