/**
 * WorkloadEntry and WorkloadGroup semantic validation, translated from Istio's Go tests
 * TestValidateWorkloadEntry and TestValidateWorkloadGroup (validation_test.go at 86c9f01fd735).
 */
import { describe, expect, it } from 'vitest';
import { validateWorkloadEntry, validateWorkloadGroup } from '../src/validate/semantic/workload-entry.js';
import { expectValidity, expectWellFormed, runValidator, type Collector } from './support/semantic-networking.js';

function we(spec: unknown): Collector {
  const c = runValidator(validateWorkloadEntry, 'WorkloadEntry', spec);
  expectWellFormed(c);
  return c;
}

function wg(spec: unknown): Collector {
  const c = runValidator(validateWorkloadGroup, 'WorkloadGroup', spec);
  expectWellFormed(c);
  return c;
}

interface Case {
  name: string;
  in: any;
  valid: boolean;
  warning?: boolean;
}

describe('TestValidateWorkloadEntry', () => {
  const cases: Case[] = [
  { name: 'valid', in: { address: '1.2.3.4' }, valid: true },
  { name: 'missing address', in: {}, valid: false },
  { name: 'missing address with network', in: { network: 'network-2' }, valid: true, warning: true },
  { name: 'valid unix endpoint', in: { address: 'unix:///lon/google/com' }, valid: true },
  {
    name: 'invalid unix endpoint',
    in: { address: 'unix:///lon/google/com', ports: { '7777': 7777 } },
    valid: false,
  },
  { name: 'valid FQDN', in: { address: 'validdns.com', ports: { '7777': 7777 } }, valid: true },
  {
    name: 'invalid FQDN',
    in: { address: 'invaliddns.com:9443', ports: { '7777': 7777 } },
    valid: false,
  },
  { name: 'valid IP', in: { address: '172.16.1.1', ports: { '7777': 7777 } }, valid: true },
];
  it.each(cases)('$name', (tc) => expectValidity(we(tc.in), tc.valid, tc.warning ?? false));
});

describe('TestValidateWorkloadGroup', () => {
  const cases: Case[] = [
  { name: 'valid', in: { template: {} }, valid: true },
  { name: 'invalid', in: { template: {}, metadata: { labels: { '.': '~' } } }, valid: false },
  { name: 'probe missing method', in: { template: {}, probe: {} }, valid: false },
  { name: 'probe nil', in: { template: {}, probe: {} }, valid: false },
  { name: 'probe http empty', in: { template: {}, probe: { httpGet: {} } }, valid: false },
  { name: 'probe http valid', in: { template: {}, probe: { httpGet: { port: 5 } } }, valid: true },
  { name: 'probe tcp invalid', in: { template: {}, probe: { tcpSocket: {} } }, valid: false },
  { name: 'probe tcp valid', in: { template: {}, probe: { tcpSocket: { port: 5 } } }, valid: true },
  { name: 'probe exec invalid', in: { template: {}, probe: { exec: {} } }, valid: false },
  {
    name: 'probe exec valid',
    in: { template: {}, probe: { exec: { command: ['foo', 'bar'] } } },
    valid: true,
  },
];
  it.each(cases)('$name', (tc) => expectValidity(wg(tc.in), tc.valid, tc.warning ?? false));
});

describe('WorkloadEntry / WorkloadGroup: paths, wording and Istio semantics', () => {
  const find = (c: Collector, path: string) => [...c.errors, ...c.warnings].filter((f) => f.path === path).map((f) => f.message);

  it('needs an address or a network', () => {
    expect(find(we({}), 'spec.address')).toEqual(['address is required']);
    expect(find(we({ network: 'n1' }), 'spec.address')).toEqual(['address is unset with network "n1"']);
  });

  it('validates unix, IP and DNS addresses', () => {
    expectValidity(we({ address: 'unix:///var/run/a.sock' }), true);
    expect(find(we({ address: 'unix:///var/run/a.sock', ports: { http: 80 } }), 'spec.ports')).toEqual(['unix endpoint unix:///var/run/a.sock must not include ports']);
    expect(find(we({ address: 'bad_name' }), 'spec.address')).toEqual(['endpoint address "bad_name" is not a valid FQDN or an IP address']);
    expect(find(we({ address: '10.0.0.1', ports: { Bad_Name: 80, http: 70000 } }), 'spec.ports.Bad_Name')).toEqual(['invalid port name: Bad_Name']);
  });

  it('rejects gRPC probes and probes without a method (Istio has no case for them)', () => {
    const template = {};
    expect(find(wg({ template, probe: { grpc: { port: 8080 } } }), 'spec.probe.grpc')).toEqual(['unknown health check method *v1alpha3.ReadinessProbe_Grpc']);
    expect(find(wg({ template, probe: { periodSeconds: 5 } }), 'spec.probe')).toEqual(['unknown health check method <nil>']);
    expect(find(wg({ template, probe: { httpGet: { port: 80, scheme: 'ftp', httpHeaders: [{ name: 'x_y' }] } } }), 'spec.probe.httpGet.scheme')).toEqual([
      'httpGet.scheme must be one of "HTTPS", "HTTP"',
    ]);
  });

  it('requires a template and stops at invalid metadata labels', () => {
    expect(find(wg({}), 'spec.template')).toEqual(['template is required']);
    const c = wg({ template: {}, metadata: { labels: { 'bad key': 'v' } }, probe: { periodSeconds: -1 } });
    expect(c.errors.map((e) => e.message)).toEqual(['invalid labels: invalid tag key: "bad key"']);
  });
});
