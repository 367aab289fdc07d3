/**
 * ServiceEntry semantic validation, translated from Istio's Go test TestValidateServiceEntries
 * (pkg/config/validation/validation_test.go at 86c9f01fd735).
 */
import { describe, expect, it } from 'vitest';
import { validateServiceEntry } from '../src/validate/semantic/service-entry.js';
import { expectValidity, expectWellFormed, runValidator, type Collector } from './support/semantic-networking.js';

function se(spec: unknown, labels?: Record<string, string>): Collector {
  const c = runValidator(validateServiceEntry, 'ServiceEntry', spec, { name: 'foo', namespace: 'bar', ...(labels ? { labels } : {}) });
  expectWellFormed(c);
  return c;
}

describe('TestValidateServiceEntries', () => {
  const cases: { name: string; in: any; valid: boolean; warning?: boolean; labels?: Record<string, string> }[] = [
  {
    name: 'discovery type DNS',
    in: {
      hosts: ['*.google.com'],
      ports: [
        { number: 80, protocol: 'http', name: 'http-valid1' },
        { number: 8080, protocol: 'http', name: 'http-valid2' },
      ],
      endpoints: [
        { address: 'lon.google.com', ports: { 'http-valid1': 8080 } },
        { address: 'in.google.com', ports: { 'http-valid2': 9080 } },
      ],
      resolution: 'DNS',
    },
    valid: true,
  },
  {
    name: 'discovery type DNS Round Robin',
    in: {
      hosts: ['*.istio.io'],
      ports: [
        { number: 80, protocol: 'http', name: 'http-valid1' },
        { number: 8080, protocol: 'http', name: 'http-valid2' },
      ],
      endpoints: [{ address: 'api-v1.istio.io', ports: { 'http-valid1': 8080 } }],
      resolution: 'DNS_ROUND_ROBIN',
    },
    valid: true,
  },
  {
    name: 'discovery type DNS, label tlsMode: istio',
    in: {
      hosts: ['*.google.com'],
      ports: [
        { number: 80, protocol: 'http', name: 'http-valid1' },
        { number: 8080, protocol: 'http', name: 'http-valid2' },
      ],
      endpoints: [
        {
          address: 'lon.google.com',
          ports: { 'http-valid1': 8080 },
          labels: { 'security.istio.io/tlsMode': 'istio' },
        },
        {
          address: 'in.google.com',
          ports: { 'http-valid2': 9080 },
          labels: { 'security.istio.io/tlsMode': 'istio' },
        },
      ],
      resolution: 'DNS',
    },
    valid: true,
  },
  {
    name: 'discovery type DNS, one host set with IP address and https port',
    in: {
      hosts: ['httpbin.org'],
      addresses: ['10.10.10.10'],
      ports: [
        { number: 80, protocol: 'http', name: 'http-valid1' },
        { number: 8080, protocol: 'http', name: 'http-valid2' },
        { number: 443, protocol: 'https', name: 'https' },
      ],
      resolution: 'DNS',
    },
    valid: true,
    warning: false,
  },
  {
    name: 'discovery type DNS, multi hosts set with IP address and https port',
    in: {
      hosts: ['httpbin.org', 'wikipedia.org'],
      addresses: ['10.10.10.10'],
      ports: [
        { number: 80, protocol: 'http', name: 'http-valid1' },
        { number: 8080, protocol: 'http', name: 'http-valid2' },
        { number: 443, protocol: 'https', name: 'https' },
      ],
      resolution: 'DNS',
    },
    valid: true,
    warning: true,
  },
  {
    name: 'discovery type DNS, IP address set',
    in: {
      hosts: ['*.google.com'],
      addresses: ['10.10.10.10'],
      ports: [
        { number: 80, protocol: 'http', name: 'http-valid1' },
        { number: 8080, protocol: 'http', name: 'http-valid2' },
      ],
      endpoints: [
        { address: 'lon.google.com', ports: { 'http-valid1': 8080 } },
        { address: 'in.google.com', ports: { 'http-valid2': 9080 } },
      ],
      resolution: 'DNS',
    },
    valid: true,
    warning: false,
  },
  {
    name: 'discovery type DNS, IP in endpoints',
    in: {
      hosts: ['*.google.com'],
      ports: [
        { number: 80, protocol: 'http', name: 'http-valid1' },
        { number: 8080, protocol: 'http', name: 'http-valid2' },
      ],
      endpoints: [
        { address: '1.1.1.1', ports: { 'http-valid1': 8080 } },
        { address: 'in.google.com', ports: { 'http-valid2': 9080 } },
      ],
      resolution: 'DNS',
    },
    valid: true,
  },
  {
    name: 'discovery type DYNAMIC_DNS',
    in: {
      hosts: ['*.google.com'],
      ports: [
        { number: 80, protocol: 'http', name: 'http-valid1' },
        { number: 8080, protocol: 'http', name: 'http-valid2' },
      ],
      resolution: 'DYNAMIC_DNS',
    },
    valid: true,
  },
  {
    name: 'empty hosts',
    in: {
      ports: [{ number: 80, protocol: 'http', name: 'http-valid1' }],
      endpoints: [{ address: 'in.google.com', ports: { 'http-valid2': 9080 } }],
      resolution: 'DNS',
    },
    valid: false,
  },
  {
    name: 'bad hosts',
    in: {
      hosts: ['-'],
      ports: [{ number: 80, protocol: 'http', name: 'http-valid1' }],
      endpoints: [{ address: 'in.google.com', ports: { 'http-valid2': 9080 } }],
      resolution: 'DNS',
    },
    valid: false,
  },
  {
    name: 'full wildcard host',
    in: {
      hosts: ['foo.com', '*'],
      ports: [{ number: 80, protocol: 'http', name: 'http-valid1' }],
      endpoints: [{ address: 'in.google.com', ports: { 'http-valid2': 9080 } }],
      resolution: 'DNS',
    },
    valid: false,
  },
  {
    name: 'short name host',
    in: {
      hosts: ['foo', 'bar.com'],
      ports: [{ number: 80, protocol: 'http', name: 'http-valid1' }],
      endpoints: [{ address: 'in.google.com', ports: { 'http-valid1': 9080 } }],
      resolution: 'DNS',
    },
    valid: true,
  },
  {
    name: 'undefined endpoint port',
    in: {
      hosts: ['google.com'],
      ports: [
        { number: 80, protocol: 'http', name: 'http-valid1' },
        { number: 80, protocol: 'http', name: 'http-valid2' },
      ],
      endpoints: [
        { address: 'lon.google.com', ports: { 'http-valid1': 8080 } },
        { address: 'in.google.com', ports: { 'http-dne': 9080 } },
      ],
      resolution: 'DNS',
    },
    valid: false,
  },
  {
    name: 'discovery type DNS, non-FQDN endpoint',
    in: {
      hosts: ['*.google.com'],
      ports: [
        { number: 80, protocol: 'http', name: 'http-valid1' },
        { number: 8080, protocol: 'http', name: 'http-valid2' },
      ],
      endpoints: [
        { address: '*.lon.google.com', ports: { 'http-valid1': 8080 } },
        { address: 'in.google.com', ports: { 'http-dne': 9080 } },
      ],
      resolution: 'DNS',
    },
    valid: false,
  },
  {
    name: 'discovery type DNS, non-FQDN host',
    in: {
      hosts: ['*.google.com'],
      ports: [
        { number: 80, protocol: 'http', name: 'http-valid1' },
        { number: 8080, protocol: 'http', name: 'http-valid2' },
      ],
      resolution: 'DNS',
    },
    valid: false,
  },
  {
    name: 'discovery type DNS, no endpoints',
    in: {
      hosts: ['google.com'],
      ports: [
        { number: 80, protocol: 'http', name: 'http-valid1' },
        { number: 8080, protocol: 'http', name: 'http-valid2' },
      ],
      resolution: 'DNS',
    },
    valid: true,
  },
  {
    name: 'discovery type DNS, unix endpoint',
    in: {
      hosts: ['*.google.com'],
      ports: [{ number: 80, protocol: 'http', name: 'http-valid1' }],
      endpoints: [{ address: 'unix:///lon/google/com' }],
      resolution: 'DNS',
    },
    valid: false,
  },
  {
    name: 'discovery type none',
    in: {
      hosts: ['google.com'],
      ports: [
        { number: 80, protocol: 'http', name: 'http-valid1' },
        { number: 8080, protocol: 'http', name: 'http-valid2' },
      ],
      resolution: 'NONE',
    },
    valid: true,
  },
  {
    name: 'discovery type none, endpoints provided',
    in: {
      hosts: ['google.com'],
      ports: [
        { number: 80, protocol: 'http', name: 'http-valid1' },
        { number: 8080, protocol: 'http', name: 'http-valid2' },
      ],
      endpoints: [{ address: 'lon.google.com', ports: { 'http-valid1': 8080 } }],
      resolution: 'NONE',
    },
    valid: false,
  },
  {
    name: 'discovery type none, cidr addresses',
    in: {
      hosts: ['google.com'],
      addresses: ['172.1.2.16/16'],
      ports: [
        { number: 80, protocol: 'http', name: 'http-valid1' },
        { number: 8080, protocol: 'http', name: 'http-valid2' },
      ],
      resolution: 'NONE',
    },
    valid: true,
  },
  {
    name: 'discovery type static, cidr addresses with endpoints',
    in: {
      hosts: ['google.com'],
      addresses: ['172.1.2.16/16'],
      ports: [
        { number: 80, protocol: 'http', name: 'http-valid1' },
        { number: 8080, protocol: 'http', name: 'http-valid2' },
      ],
      endpoints: [
        { address: '1.1.1.1', ports: { 'http-valid1': 8080 } },
        { address: '2.2.2.2', ports: { 'http-valid2': 9080 } },
      ],
      resolution: 'STATIC',
    },
    valid: true,
  },
  {
    name: 'discovery type static',
    in: {
      hosts: ['google.com'],
      addresses: ['172.1.2.16'],
      ports: [
        { number: 80, protocol: 'http', name: 'http-valid1' },
        { number: 8080, protocol: 'http', name: 'http-valid2' },
      ],
      endpoints: [
        { address: '1.1.1.1', ports: { 'http-valid1': 8080 } },
        { address: '2.2.2.2', ports: { 'http-valid2': 9080 } },
      ],
      resolution: 'STATIC',
    },
    valid: true,
  },
  {
    name: 'discovery type static, FQDN in endpoints',
    in: {
      hosts: ['google.com'],
      addresses: ['172.1.2.16'],
      ports: [
        { number: 80, protocol: 'http', name: 'http-valid1' },
        { number: 8080, protocol: 'http', name: 'http-valid2' },
      ],
      endpoints: [
        { address: 'google.com', ports: { 'http-valid1': 8080 } },
        { address: '2.2.2.2', ports: { 'http-valid2': 9080 } },
      ],
      resolution: 'STATIC',
    },
    valid: false,
  },
  {
    name: 'discovery type static, missing endpoints',
    in: {
      hosts: ['google.com'],
      addresses: ['172.1.2.16'],
      ports: [
        { number: 80, protocol: 'http', name: 'http-valid1' },
        { number: 8080, protocol: 'http', name: 'http-valid2' },
      ],
      resolution: 'STATIC',
    },
    valid: true,
  },
  {
    name: 'discovery type static, bad endpoint port name',
    in: {
      hosts: ['google.com'],
      addresses: ['172.1.2.16'],
      ports: [
        { number: 80, protocol: 'http', name: 'http-valid1' },
        { number: 8080, protocol: 'http', name: 'http-valid2' },
      ],
      endpoints: [
        { address: '1.1.1.1', ports: { 'http-valid1': 8080 } },
        { address: '2.2.2.2', ports: { 'http-dne': 9080 } },
      ],
      resolution: 'STATIC',
    },
    valid: false,
  },
  {
    name: 'discovery type none, conflicting port names',
    in: {
      hosts: ['google.com'],
      ports: [
        { number: 80, protocol: 'http', name: 'http-conflict' },
        { number: 8080, protocol: 'http', name: 'http-conflict' },
      ],
      resolution: 'NONE',
    },
    valid: false,
  },
  {
    name: 'discovery type none, conflicting port numbers',
    in: {
      hosts: ['google.com'],
      ports: [
        { number: 80, protocol: 'http', name: 'http-conflict1' },
        { number: 80, protocol: 'http', name: 'http-conflict2' },
      ],
      resolution: 'NONE',
    },
    valid: false,
  },
  {
    name: 'unix socket',
    in: {
      hosts: ['uds.cluster.local'],
      ports: [{ number: 6553, protocol: 'grpc', name: 'grpc-service1' }],
      resolution: 'STATIC',
      endpoints: [{ address: 'unix:///path/to/socket' }],
    },
    valid: true,
  },
  {
    name: 'unix socket, relative path',
    in: {
      hosts: ['uds.cluster.local'],
      ports: [{ number: 6553, protocol: 'grpc', name: 'grpc-service1' }],
      resolution: 'STATIC',
      endpoints: [{ address: 'unix://./relative/path.sock' }],
    },
    valid: false,
  },
  {
    name: 'unix socket, endpoint ports',
    in: {
      hosts: ['uds.cluster.local'],
      ports: [{ number: 6553, protocol: 'grpc', name: 'grpc-service1' }],
      resolution: 'STATIC',
      endpoints: [{ address: 'unix:///path/to/socket', ports: { 'grpc-service1': 6553 } }],
    },
    valid: false,
  },
  {
    name: 'unix socket, multiple service ports',
    in: {
      hosts: ['uds.cluster.local'],
      ports: [
        { number: 6553, protocol: 'grpc', name: 'grpc-service1' },
        { number: 80, protocol: 'http', name: 'http-service2' },
      ],
      resolution: 'STATIC',
      endpoints: [{ address: 'unix:///path/to/socket' }],
    },
    valid: false,
  },
  {
    name: 'empty protocol',
    in: {
      hosts: ['google.com'],
      addresses: ['172.1.2.16/16'],
      ports: [{ number: 80, protocol: 'http', name: 'http-valid1' }, { number: 8080, name: 'http-valid2' }],
      resolution: 'NONE',
    },
    valid: true,
  },
  {
    name: 'selector',
    in: {
      hosts: ['google.com'],
      workloadSelector: { labels: { foo: 'bar' } },
      ports: [{ number: 80, protocol: 'http', name: 'http-valid1' }],
    },
    valid: true,
    warning: true,
  },
  {
    name: 'workload selector without labels',
    in: {
      hosts: ['google.com'],
      ports: [
        { number: 80, protocol: 'http', name: 'http-valid1' },
        { number: 8080, protocol: 'http', name: 'http-valid2' },
      ],
      workloadSelector: {},
    },
    valid: true,
    warning: true,
  },
  {
    name: 'selector and endpoints',
    in: {
      hosts: ['google.com'],
      workloadSelector: { labels: { foo: 'bar' } },
      ports: [{ number: 80, protocol: 'http', name: 'http-valid1' }],
      endpoints: [{ address: '1.1.1.1' }],
    },
    valid: false,
    warning: true,
  },
  {
    name: 'selector and resolution NONE',
    in: {
      hosts: ['google.com'],
      workloadSelector: { labels: { foo: 'bar' } },
      ports: [{ number: 80, protocol: 'http', name: 'http-valid1' }],
      resolution: 'NONE',
    },
    valid: true,
    warning: true,
  },
  {
    name: 'selector and resolution DNS',
    in: {
      hosts: ['google.com'],
      workloadSelector: { labels: { foo: 'bar' } },
      ports: [{ number: 80, protocol: 'http', name: 'http-valid1' }],
      resolution: 'DNS',
    },
    valid: true,
    warning: false,
  },
  {
    name: 'bad selector key',
    in: {
      hosts: ['google.com'],
      workloadSelector: { labels: { '': 'bar' } },
      ports: [{ number: 80, protocol: 'http', name: 'http-valid1' }],
    },
    valid: false,
  },
  {
    name: 'repeat target port',
    in: {
      hosts: ['google.com'],
      resolution: 'DNS',
      ports: [
        { number: 80, protocol: 'http', name: 'http-valid1', targetPort: 80 },
        { number: 81, protocol: 'http', name: 'http-valid2', targetPort: 80 },
      ],
    },
    valid: true,
  },
  {
    name: 'valid target port',
    in: {
      hosts: ['google.com'],
      resolution: 'DNS',
      ports: [{ number: 80, protocol: 'http', name: 'http-valid1', targetPort: 81 }],
    },
    valid: true,
  },
  {
    name: 'invalid target port',
    in: {
      hosts: ['google.com'],
      resolution: 'DNS',
      ports: [{ number: 80, protocol: 'http', name: 'http-valid1', targetPort: 65536 }],
    },
    valid: false,
  },
  {
    name: 'warn target port',
    in: {
      hosts: ['google.com'],
      workloadSelector: { labels: { key: 'bar' } },
      ports: [{ number: 80, protocol: 'http', name: 'http-valid1', targetPort: 1234 }],
    },
    valid: true,
    warning: true,
  },
  {
    name: 'valid endpoint port',
    in: {
      hosts: ['google.com'],
      ports: [{ number: 80, protocol: 'http', name: 'http-valid1', targetPort: 81 }],
      resolution: 'STATIC',
      endpoints: [{ address: '1.1.1.1', ports: { 'http-valid1': 8081 } }],
    },
    valid: true,
  },
  {
    name: 'invalid endpoint port',
    in: {
      hosts: ['google.com'],
      ports: [{ number: 80, protocol: 'http', name: 'http-valid1', targetPort: 81 }],
      resolution: 'STATIC',
      endpoints: [{ address: '1.1.1.1', ports: { 'http-valid1': 65536 } }],
    },
    valid: false,
  },
  {
    name: 'protocol unset for addresses empty',
    in: {
      hosts: ['google.com'],
      addresses: [],
      ports: [{ number: 80, protocol: 'http', name: 'http-valid1' }, { number: 8080, name: 'http-valid2' }],
      resolution: 'NONE',
    },
    valid: true,
    warning: true,
  },
  {
    name: 'protocol is TCP for addresses empty',
    in: {
      hosts: ['google.com'],
      addresses: [],
      ports: [
        { number: 80, protocol: 'http', name: 'http-valid1' },
        { number: 81, protocol: 'TCP', name: 'tcp-valid1' },
      ],
      resolution: 'NONE',
    },
    valid: true,
    warning: true,
  },
  {
    name: 'dns round robin with more than one endpoint',
    in: {
      hosts: ['google.com'],
      addresses: [],
      ports: [{ number: 8081, protocol: 'http', name: 'http-valid1' }],
      endpoints: [
        { address: 'api-v1.istio.io', ports: { 'http-valid1': 8081 } },
        { address: '1.1.1.2', ports: { 'http-valid1': 8081 } },
      ],
      resolution: 'DNS_ROUND_ROBIN',
    },
    valid: false,
    warning: false,
  },
  {
    name: 'dns round robin with 0 endpoints',
    in: {
      hosts: ['google.com'],
      addresses: [],
      ports: [{ number: 8081, protocol: 'http', name: 'http-valid1' }],
      endpoints: [],
      resolution: 'DNS_ROUND_ROBIN',
    },
    valid: true,
    warning: false,
  },
  {
    name: 'partial wildcard hosts',
    in: {
      hosts: ['*.nytimes.com', '*washingtonpost.com'],
      addresses: [],
      ports: [{ number: 443, protocol: 'HTTPS', name: 'https-nytimes' }],
      endpoints: [],
      resolution: 'NONE',
    },
    valid: true,
    warning: true,
  },
  {
    name: 'network set with no address on endpoint',
    in: {
      hosts: ['www.example.com'],
      addresses: [],
      ports: [{ number: 443, protocol: 'HTTPS', name: 'https-example' }],
      endpoints: [{ network: 'cluster-1' }],
      resolution: 'STATIC',
    },
    valid: true,
    warning: true,
  },
  {
    name: 'discovery type DYNAMIC_DNS, unsupported TCP protocol',
    in: {
      hosts: ['*.google.com'],
      addresses: [],
      ports: [
        { number: 80, protocol: 'http', name: 'http-valid1' },
        { number: 81, protocol: 'TCP', name: 'tcp-valid1' },
      ],
      resolution: 'DYNAMIC_DNS',
    },
    valid: false,
  },
  {
    name: 'discovery type DYNAMIC_DNS, GRPC protocol',
    in: {
      hosts: ['*.svc.cluster.local'],
      addresses: [],
      ports: [{ number: 9090, protocol: 'GRPC', name: 'grpc' }],
      resolution: 'DYNAMIC_DNS',
    },
    valid: true,
  },
  {
    name: 'discovery type DYNAMIC_DNS, FQDN host',
    in: {
      hosts: ['google.com'],
      addresses: [],
      ports: [{ number: 80, protocol: 'http', name: 'http-valid' }],
      resolution: 'DYNAMIC_DNS',
    },
    valid: false,
  },
  {
    name: 'discovery type DYNAMIC_DNS, endpoints set',
    in: {
      hosts: ['*.google.com'],
      addresses: [],
      ports: [{ number: 80, protocol: 'http', name: 'http-valid1' }],
      endpoints: [{ address: 'in.google.com', ports: { 'http-valid1': 9080 } }],
      resolution: 'DYNAMIC_DNS',
    },
    valid: false,
  },
  {
    name: 'discovery type DYNAMIC_DNS, IP address set',
    in: {
      hosts: ['*.google.com'],
      addresses: ['10.10.10.10'],
      ports: [
        { number: 80, protocol: 'http', name: 'http-valid1' },
        { number: 8080, protocol: 'http', name: 'http-valid2' },
      ],
      resolution: 'DYNAMIC_DNS',
    },
    valid: false,
  },
  {
    name: 'discovery type DYNAMIC_DNS, empty hosts',
    in: {
      hosts: [],
      addresses: [],
      ports: [{ number: 80, protocol: 'http', name: 'http-valid1' }],
      resolution: 'DYNAMIC_DNS',
    },
    valid: false,
  },
  {
    name: 'discovery type DYNAMIC_DNS, multiple wildcarded hosts',
    in: {
      hosts: ['*.google.com', '*.amazon.com'],
      addresses: [],
      ports: [{ number: 80, protocol: 'http', name: 'http-valid1' }],
      resolution: 'DYNAMIC_DNS',
    },
    valid: true,
  },
  {
    name: 'discovery type DYNAMIC_DNS, internal mesh location',
    in: {
      hosts: ['*.google.com'],
      addresses: [],
      ports: [{ number: 80, protocol: 'http', name: 'http-valid1' }],
      resolution: 'DYNAMIC_DNS',
      location: 'MESH_INTERNAL',
    },
    valid: true,
  },
  {
    name: 'discovery type DYNAMIC_DNS, MESH_INTERNAL with waypoint (invalid)',
    in: {
      hosts: ['*.google.com'],
      addresses: [],
      ports: [{ number: 80, protocol: 'http', name: 'http-valid1' }],
      resolution: 'DYNAMIC_DNS',
      location: 'MESH_INTERNAL',
    },
    valid: false,
    labels: { 'istio.io/use-waypoint': 'my-waypoint' },
  },
  {
    name: 'discovery type DYNAMIC_DNS, nil port',
    in: { hosts: ['*.google.com'], location: 'MESH_EXTERNAL', ports: [null], resolution: 'DYNAMIC_DNS' },
    valid: false,
  },
  {
    name: 'nil port in ports array',
    in: { hosts: ['google.com'], ports: [null], resolution: 'NONE' },
    valid: false,
  },
  {
    name: 'discovery type DNS with addresses, nil port',
    in: { hosts: ['google.com'], addresses: ['1.2.3.4'], ports: [null], resolution: 'DNS' },
    valid: false,
  },
];
  it.each(cases)('$name', (tc) => expectValidity(se(tc.in, tc.labels), tc.valid, tc.warning ?? false));
});

describe('ServiceEntry: paths, wording and Istio semantics', () => {
  const find = (c: Collector, path: string) => [...c.errors, ...c.warnings].filter((f) => f.path === path).map((f) => f.message);
  const http = [{ number: 80, name: 'http', protocol: 'HTTP' }];

  it('needs resolvable hosts for DNS without endpoints (wildcards included)', () => {
    const c = se({ hosts: ['api.example.com', '*.example.com'], ports: http, resolution: 'DNS' });
    expect(find(c, 'spec.hosts[1]')).toEqual([
      'hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode DNS, domain name "*.example.com" invalid (label "*" invalid)',
    ]);
  });

  it('warns about TCP ports without addresses only when IP auto-allocation cannot apply', () => {
    const tcp = [{ number: 5432, name: 'tcp', protocol: 'TCP' }];
    expectValidity(se({ hosts: ['db.example.com'], ports: tcp, resolution: 'DNS' }), true, false);
    expect(find(se({ hosts: ['db.example.com'], ports: tcp, resolution: 'NONE' }), 'spec.ports[0].protocol')).toEqual([
      'addresses are required for ports serving TCP (or unset) protocol when IP Autoallocation is not enabled',
    ]);
    expectValidity(se({ hosts: ['db.example.com'], ports: tcp, resolution: 'DNS' }, { 'networking.istio.io/enable-autoallocate-ip': 'False' }), true, true);
  });

  it('rejects several hosts with plain TCP ports unless resolution is NONE', () => {
    const tcp = [{ number: 5432, name: 'tcp', protocol: 'TCP' }];
    expect(find(se({ hosts: ['a.com', 'b.com'], addresses: ['10.0.0.1'], ports: tcp, resolution: 'DNS' }), 'spec.ports[0].protocol')).toEqual([
      'multiple hosts provided with non-HTTP, non-TLS ports',
    ]);
    expectValidity(se({ hosts: ['a.com', 'b.com'], addresses: ['10.0.0.1'], ports: tcp, resolution: 'NONE' }), true);
  });

  it('checks STATIC endpoints against the declared ports', () => {
    const c = se({ hosts: ['a.com'], ports: http, resolution: 'STATIC', endpoints: [{ address: 'a.com' }, { address: '10.0.0.1', ports: { grpc: 9090 } }] });
    expect(find(c, 'spec.endpoints[0].address')).toEqual(['endpoint address "a.com" is not a valid IP address']);
    expect(find(c, 'spec.endpoints[1].ports.grpc')).toEqual(['endpoint port 9090 is not defined by the service entry']);
  });

  it('handles DYNAMIC_DNS: wildcard hosts, HTTP/TLS ports, no waypoint with MESH_INTERNAL', () => {
    expectValidity(se({ hosts: ['*.example.com'], ports: http, resolution: 'DYNAMIC_DNS' }), true, false);
    const c = se({ hosts: ['api.example.com'], ports: [{ number: 5432, name: 'tcp', protocol: 'TCP' }], resolution: 'DYNAMIC_DNS', location: 'MESH_INTERNAL' }, { 'istio.io/use-waypoint': 'wp' });
    expect(find(c, 'spec.hosts[0]')).toEqual(['host must be wildcarded for resolution mode DYNAMIC_DNS']);
    expect(find(c, 'spec.ports[0].protocol')).toEqual(['only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type DYNAMIC_DNS']);
    expect(find(c, 'spec.location')).toEqual(['location MESH_INTERNAL with resolution type DYNAMIC_DNS is not supported when using waypoints']);
    expectValidity(se({ hosts: ['*.example.com'], ports: http, resolution: 'DYNAMIC_DNS', location: 'MESH_INTERNAL' }, { 'istio.io/use-waypoint': 'None' }), true);
  });

  it('accepts ~ in exportTo for ServiceEntries only alone', () => {
    expectValidity(se({ hosts: ['a.com'], ports: http, exportTo: ['~'] }), true);
    expect(find(se({ hosts: ['a.com'], ports: http, exportTo: ['~', 'ns'] }), 'spec.exportTo')).toEqual(['cannot export service entry to no one (~) and someone']);
  });

  it('stops at the first selector error, as Istio returns early', () => {
    const c = se({ hosts: ['*'], ports: http, workloadSelector: { labels: { app: '*' } } });
    expect(c.errors.map((e) => e.message)).toEqual(['wildcard is not supported in selector: "app=*"']);
  });

  it('warns about partial wildcards', () => {
    expect(find(se({ hosts: ['*x.example.com'], ports: http }), 'spec.hosts[0]')).toEqual(['partial wildcard "*x.example.com" not allowed']);
  });
});
