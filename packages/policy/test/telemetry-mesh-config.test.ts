/** The Telemetry API as part of the snapshot, with the mesh config's providers in either form. */
import { describe, expect, it } from 'vitest';
import { loadText } from '../src/load/loader.js';
import { compileSnapshot } from '../src/compile/snapshot.js';
import { telemetryProvider } from '../src/compile/telemetry.js';

describe('telemetry in the snapshot', () => {
  it('is compiled with the snapshot, reading the mesh config (Istio defaults when absent)', () => {
    const { resources } = loadText(`apiVersion: telemetry.istio.io/v1
kind: Telemetry
metadata: {name: mesh-default, namespace: istio-system}
spec:
  accessLogging: [{providers: [{name: envoy}]}]
`);
    const w = { namespace: 'default', labels: { app: 'reviews' } };
    const plain = compileSnapshot(resources, w);
    expect(plain.telemetry.sources).toEqual(['istio-system/mesh-default']);
    expect(plain.telemetry.metrics.provider).toBe('prometheus');
    expect(plain.telemetry.tracing).toBeNull();
    expect(plain.telemetry.accessLogging?.server.sinks.map((s) => s.provider)).toEqual([{ name: 'envoy', kind: 'envoyFileAccessLog', logFormat: 'text' }]);

    const traced = compileSnapshot(resources, w, {
      mesh: {
        extensionProviders: [{ name: 'prometheus', prometheus: {} }, { name: 'zipkin', zipkin: { service: 'zipkin.istio-system.svc.cluster.local', port: 9411 } }, { name: 'envoy', envoyFileAccessLog: { path: '/dev/stdout' } }],
        defaultProviders: { metrics: ['prometheus'], tracing: ['zipkin'] },
        defaultTracingSampling: 10,
      },
    });
    expect(traced.telemetry.tracing?.client).toMatchObject({ provider: { name: 'zipkin', kind: 'zipkin' }, samplingPercentage: 10, disabled: false });
    expect(traced.telemetry.diagnostics).toEqual([]);
  });

  it("reads Istio's extensionProviders form: the kind from its one field, JSON logs from logFormat.labels", () => {
    expect(telemetryProvider({ name: 'otel', opentelemetry: { service: 'c', port: 4317 } })).toEqual({ name: 'otel', kind: 'opentelemetry' });
    expect(telemetryProvider({ name: 'json', envoyFileAccessLog: { path: '/dev/stdout', logFormat: { labels: { code: '%RESPONSE_CODE%' } } } })).toEqual({ name: 'json', kind: 'envoyFileAccessLog', logFormat: 'json' });
    expect(telemetryProvider({ name: 'text', envoyFileAccessLog: { path: '/dev/stdout', logFormat: { text: '%RESPONSE_CODE%\n' } } })).toEqual({ name: 'text', kind: 'envoyFileAccessLog', logFormat: 'text' });
    expect(telemetryProvider({ name: 'ext', envoyExtAuthzHttp: { service: 'a', port: 1 } })).toEqual({ name: 'ext', kind: 'other' });
    expect(telemetryProvider({ name: 'p', kind: 'prometheus' })).toEqual({ name: 'p', kind: 'prometheus' });
  });
});
