/**
 * Sidecar semantic validation, translated from Istio's Go test TestValidateSidecar
 * (pkg/config/validation/validation_test.go at 86c9f01fd735).
 */
import { describe, expect, it } from 'vitest';
import { validateSidecar } from '../src/validate/semantic/sidecar.js';
import { expectMessages, expectValidity, expectWellFormed, runValidator, type Collector } from './support/semantic-networking.js';

function sidecar(spec: unknown): Collector {
  const c = runValidator(validateSidecar, 'Sidecar', spec, { name: 'foo', namespace: 'bar' });
  expectWellFormed(c);
  return c;
}

describe('TestValidateSidecar', () => {
  const cases: { name: string; in: any; valid: boolean; warn: boolean }[] = [
  { name: 'empty ingress and egress', in: {}, valid: false, warn: false },
  { name: 'default', in: { egress: [{ hosts: ['*/*'] }] }, valid: true, warn: false },
  {
    name: 'workload selector without labels',
    in: { egress: [{ hosts: ['*/*'] }], workloadSelector: {} },
    valid: true,
    warn: true,
  },
  {
    name: 'import local namespace with wildcard',
    in: { egress: [{ hosts: ['./*'] }] },
    valid: true,
    warn: false,
  },
  {
    name: 'import local namespace with fqdn',
    in: { egress: [{ hosts: ['./foo.com'] }] },
    valid: true,
    warn: false,
  },
  { name: 'import nothing', in: { egress: [{ hosts: ['~/*'] }] }, valid: true, warn: false },
  {
    name: 'import all except a namespace',
    in: { egress: [{ hosts: ['*/*', '~ns1/*'] }] },
    valid: true,
    warn: false,
  },
  {
    name: 'import all except an exact host',
    in: { egress: [{ hosts: ['*/*', '~/foo.com'] }] },
    valid: true,
    warn: false,
  },
  {
    name: 'exclude with invalid namespace',
    in: { egress: [{ hosts: ['*/*', '~Invalid_NS/*'] }] },
    valid: false,
    warn: false,
  },
  { name: 'bad egress host 1', in: { egress: [{ hosts: ['*'] }] }, valid: false, warn: false },
  { name: 'bad egress host 2', in: { egress: [{ hosts: ['/'] }] }, valid: false, warn: false },
  { name: 'empty egress host', in: { egress: [{ hosts: [] }] }, valid: false, warn: false },
  {
    name: 'multiple wildcard egress',
    in: { egress: [{ hosts: ['*/foo.com'] }, { hosts: ['ns1/bar.com'] }] },
    valid: false,
    warn: false,
  },
  {
    name: 'wildcard egress not in end',
    in: {
      egress: [
        { hosts: ['*/foo.com'] },
        { port: { protocol: 'http', number: 8080, name: 'h8080' }, hosts: ['ns1/bar.com'] },
      ],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'invalid Port',
    in: { egress: [{ port: { protocol: 'http1', number: 1000000, name: '' }, hosts: ['ns1/bar.com'] }] },
    valid: false,
    warn: false,
  },
  {
    name: 'Port without name',
    in: { egress: [{ port: { protocol: 'http', number: 8080 }, hosts: ['ns1/bar.com'] }] },
    valid: true,
    warn: false,
  },
  {
    name: 'UDS bind in outbound',
    in: {
      egress: [
        {
          port: { protocol: 'http', number: 0, name: 'uds' },
          hosts: ['ns1/bar.com'],
          bind: 'unix:///@foo/bar/com',
        },
      ],
    },
    valid: true,
    warn: false,
  },
  {
    name: 'UDS bind in inbound',
    in: {
      ingress: [
        {
          port: { protocol: 'http', number: 0, name: 'uds' },
          bind: 'unix:///@foo/bar/com',
          defaultEndpoint: '127.0.0.1:9999',
        },
      ],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'UDS bind in outbound 2',
    in: {
      egress: [
        {
          port: { protocol: 'http', number: 0, name: 'uds' },
          hosts: ['ns1/bar.com'],
          bind: 'unix:///foo/bar/com',
        },
      ],
    },
    valid: true,
    warn: false,
  },
  {
    name: 'invalid bind',
    in: {
      egress: [
        {
          port: { protocol: 'http', number: 0, name: 'uds' },
          hosts: ['ns1/bar.com'],
          bind: 'foobar:///@foo/bar/com',
        },
      ],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'invalid capture mode with uds bind',
    in: {
      egress: [
        {
          port: { protocol: 'http', number: 0, name: 'uds' },
          hosts: ['ns1/bar.com'],
          bind: 'unix:///@foo/bar/com',
          captureMode: 'IPTABLES',
        },
      ],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'duplicate UDS bind',
    in: {
      egress: [
        {
          port: { protocol: 'http', number: 0, name: 'uds' },
          hosts: ['ns1/bar.com'],
          bind: 'unix:///@foo/bar/com',
        },
        {
          port: { protocol: 'http', number: 0, name: 'uds' },
          hosts: ['ns1/bar.com'],
          bind: 'unix:///@foo/bar/com',
        },
      ],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'duplicate ports',
    in: {
      egress: [
        { port: { protocol: 'http', number: 90, name: 'foo' }, hosts: ['ns1/bar.com'] },
        { port: { protocol: 'tcp', number: 90, name: 'tcp' }, hosts: ['ns2/bar.com'] },
      ],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'ingress without port',
    in: { ingress: [{ defaultEndpoint: '127.0.0.1:110' }], egress: [{ hosts: ['*/*'] }] },
    valid: false,
    warn: false,
  },
  {
    name: 'ingress without port and with IPv6 endpoint',
    in: { ingress: [{ defaultEndpoint: '[::1]:110' }], egress: [{ hosts: ['*/*'] }] },
    valid: false,
    warn: false,
  },
  {
    name: 'ingress with duplicate ports',
    in: {
      ingress: [
        { port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: '127.0.0.1:110' },
        { port: { protocol: 'tcp', number: 90, name: 'bar' }, defaultEndpoint: '127.0.0.1:110' },
      ],
      egress: [{ hosts: ['*/*'] }],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'ingress with duplicate ports and IPv6 endpoint',
    in: {
      ingress: [
        { port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: '[::1]:110' },
        { port: { protocol: 'tcp', number: 90, name: 'bar' }, defaultEndpoint: '[::1]:110' },
      ],
      egress: [{ hosts: ['*/*'] }],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'ingress without default endpoint',
    in: {
      ingress: [{ port: { protocol: 'http', number: 90, name: 'foo' } }],
      egress: [{ hosts: ['*/*'] }],
    },
    valid: true,
    warn: false,
  },
  {
    name: 'ingress with invalid default endpoint in IPv4',
    in: {
      ingress: [{ port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: '1.1.1.1:90' }],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'ingress with invalid default endpoint in IPv6',
    in: {
      ingress: [{ port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: '[1:1:1:1:1:1:1:1]:90' }],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'ingress with invalid default endpoint uds',
    in: {
      ingress: [{ port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: 'unix:///' }],
      egress: [{ hosts: ['*/*'] }],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'ingress with invalid default endpoint port in IPv4',
    in: {
      ingress: [{ port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: '127.0.0.1:hi' }],
      egress: [{ hosts: ['*/*'] }],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'ingress with invalid default endpoint port in IPv6',
    in: {
      ingress: [{ port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: '[::1]:hi' }],
      egress: [{ hosts: ['*/*'] }],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'valid ingress and egress in IPv4',
    in: {
      ingress: [{ port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: '127.0.0.1:9999' }],
      egress: [{ hosts: ['*/*'] }],
    },
    valid: true,
    warn: false,
  },
  {
    name: 'valid ingress and egress in IPv6',
    in: {
      ingress: [{ port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: '[::1]:9999' }],
      egress: [{ hosts: ['*/*'] }],
    },
    valid: true,
    warn: false,
  },
  {
    name: 'valid ingress and empty egress in IPv4',
    in: {
      ingress: [{ port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: '127.0.0.1:9999' }],
    },
    valid: true,
    warn: false,
  },
  {
    name: 'valid ingress and empty egress in IPv6',
    in: {
      ingress: [{ port: { protocol: 'http', number: 90, name: 'foo' }, defaultEndpoint: '[::1]:9999' }],
    },
    valid: true,
    warn: false,
  },
  { name: 'empty', in: {}, valid: false, warn: false },
  {
    name: 'just outbound traffic policy',
    in: { outboundTrafficPolicy: { mode: 'ALLOW_ANY' } },
    valid: true,
    warn: false,
  },
  {
    name: 'empty protocol in IPv4',
    in: {
      ingress: [{ port: { number: 90, name: 'foo' }, defaultEndpoint: '127.0.0.1:9999' }],
      egress: [{ hosts: ['*/*'] }],
    },
    valid: true,
    warn: false,
  },
  {
    name: 'empty protocol in IPv6',
    in: {
      ingress: [{ port: { number: 90, name: 'foo' }, defaultEndpoint: '[::1]:9999' }],
      egress: [{ hosts: ['*/*'] }],
    },
    valid: true,
    warn: false,
  },
  {
    name: 'ALLOW_ANY sidecar egress policy with no egress proxy ',
    in: { outboundTrafficPolicy: { mode: 'ALLOW_ANY' }, egress: [{ hosts: ['*/*'] }] },
    valid: true,
    warn: false,
  },
  {
    name: 'sidecar egress proxy with RESGISTRY_ONLY(default)',
    in: {
      outboundTrafficPolicy: { egressProxy: { host: 'foo.bar', subset: 'shiny', port: { number: 5000 } } },
      egress: [{ hosts: ['*/*'] }],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'sidecar egress proxy with ALLOW_ANY',
    in: {
      outboundTrafficPolicy: { mode: 'ALLOW_ANY', egressProxy: { host: 'foo.bar', subset: 'shiny', port: { number: 5000 } } },
      egress: [{ hosts: ['*/*'] }],
    },
    valid: true,
    warn: false,
  },
  {
    name: 'sidecar egress proxy with ALLOW_ANY, service hostname invalid fqdn',
    in: {
      outboundTrafficPolicy: { mode: 'ALLOW_ANY', egressProxy: { host: 'foobar*123', subset: 'shiny', port: { number: 5000 } } },
      egress: [{ hosts: ['*/*'] }],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'sidecar egress proxy(without Port) with ALLOW_ANY',
    in: {
      outboundTrafficPolicy: { mode: 'ALLOW_ANY', egressProxy: { host: 'foo.bar', subset: 'shiny' } },
      egress: [{ hosts: ['*/*'] }],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'ALLOW_ANY_DYNAMIC_DNS rejected in sidecar',
    in: { outboundTrafficPolicy: { mode: 3 }, egress: [{ hosts: ['*/*'] }] },
    valid: false,
    warn: false,
  },
  {
    name: 'sidecar egress only one wildcarded',
    in: { egress: [{ hosts: ['*/*', 'test/a.com'] }] },
    valid: true,
    warn: true,
  },
  {
    name: 'sidecar egress wildcarded ns',
    in: { egress: [{ hosts: ['*/b.com', 'test/a.com'] }] },
    valid: true,
    warn: false,
  },
  {
    name: 'sidecar egress duplicated with wildcarded same namespace',
    in: { egress: [{ hosts: ['test/*', 'test/a.com'] }] },
    valid: true,
    warn: true,
  },
  {
    name: 'invalid partial wildcard',
    in: { egress: [{ hosts: ['test/*a.com'] }] },
    valid: false,
    warn: false,
  },
  {
    name: 'sidecar egress duplicated with wildcarded same namespace .',
    in: { egress: [{ hosts: ['./*', 'bar/a.com'] }] },
    valid: true,
    warn: true,
  },
  {
    name: 'ingress tls mode set to ISTIO_MUTUAL in IPv4',
    in: {
      ingress: [
        {
          port: { protocol: 'http', number: 90, name: 'foo' },
          defaultEndpoint: '127.0.0.1:9999',
          tls: { mode: 'ISTIO_MUTUAL' },
        },
      ],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'ingress tls mode set to ISTIO_MUTUAL in IPv6',
    in: {
      ingress: [
        {
          port: { protocol: 'http', number: 90, name: 'foo' },
          defaultEndpoint: '[::1]:9999',
          tls: { mode: 'ISTIO_MUTUAL' },
        },
      ],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'ingress tls mode set to ISTIO_AUTO_PASSTHROUGH in IPv4',
    in: {
      ingress: [
        {
          port: { protocol: 'http', number: 90, name: 'foo' },
          defaultEndpoint: '127.0.0.1:9999',
          tls: { mode: 'AUTO_PASSTHROUGH' },
        },
      ],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'ingress tls mode set to ISTIO_AUTO_PASSTHROUGH in IPv6',
    in: {
      ingress: [
        {
          port: { protocol: 'http', number: 90, name: 'foo' },
          defaultEndpoint: '[::1]:9999',
          tls: { mode: 'AUTO_PASSTHROUGH' },
        },
      ],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'ingress tls invalid protocol in IPv4',
    in: {
      ingress: [
        {
          port: { protocol: 'tcp', number: 90, name: 'foo' },
          defaultEndpoint: '127.0.0.1:9999',
          tls: { mode: 'SIMPLE' },
        },
      ],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'ingress tls invalid protocol in IPv6',
    in: {
      ingress: [
        {
          port: { protocol: 'tcp', number: 90, name: 'foo' },
          defaultEndpoint: '[::1]:9999',
          tls: { mode: 'SIMPLE' },
        },
      ],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'ingress tls httpRedirect is not supported in IPv4',
    in: {
      ingress: [
        {
          port: { protocol: 'tcp', number: 90, name: 'foo' },
          defaultEndpoint: '127.0.0.1:9999',
          tls: { mode: 'SIMPLE', httpsRedirect: true },
        },
      ],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'ingress tls httpRedirect is not supported in IPv6',
    in: {
      ingress: [
        {
          port: { protocol: 'tcp', number: 90, name: 'foo' },
          defaultEndpoint: '[::1]:9999',
          tls: { mode: 'SIMPLE', httpsRedirect: true },
        },
      ],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'ingress tls SAN entries are not supported in IPv4',
    in: {
      ingress: [
        {
          port: { protocol: 'tcp', number: 90, name: 'foo' },
          defaultEndpoint: '127.0.0.1:9999',
          tls: { mode: 'SIMPLE', subjectAltNames: ['httpbin.com'] },
        },
      ],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'ingress tls SAN entries are not supported in IPv6',
    in: {
      ingress: [
        {
          port: { protocol: 'tcp', number: 90, name: 'foo' },
          defaultEndpoint: '[::1]:9999',
          tls: { mode: 'SIMPLE', subjectAltNames: ['httpbin.com'] },
        },
      ],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'ingress tls credentialName is not supported in IPv4',
    in: {
      ingress: [
        {
          port: { protocol: 'tcp', number: 90, name: 'foo' },
          defaultEndpoint: '127.0.0.1:9999',
          tls: { mode: 'SIMPLE', credentialName: 'secret-name' },
        },
      ],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'ingress tls credentialName is not supported in IPv6',
    in: {
      ingress: [
        {
          port: { protocol: 'tcp', number: 90, name: 'foo' },
          defaultEndpoint: '[::1]:9999',
          tls: { mode: 'SIMPLE', credentialName: 'secret-name' },
        },
      ],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'ingress tls credentialNames is not supported in IPv4',
    in: {
      ingress: [
        {
          port: { protocol: 'tcp', number: 90, name: 'foo' },
          defaultEndpoint: '127.0.0.1:9999',
          tls: { mode: 'SIMPLE', credentialNames: ['secret-name'] },
        },
      ],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'ingress tls credentialNames is not supported in IPv6',
    in: {
      ingress: [
        {
          port: { protocol: 'tcp', number: 90, name: 'foo' },
          defaultEndpoint: '[::1]:9999',
          tls: { mode: 'SIMPLE', credentialNames: ['secret-name'] },
        },
      ],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'ingress tls tlsCertificates is not supported in IPv4',
    in: {
      ingress: [
        {
          port: { protocol: 'tcp', number: 90, name: 'foo' },
          defaultEndpoint: '127.0.0.1:9999',
          tls: {
            mode: 'SIMPLE',
            tlsCertificates: [
              {
                serverCertificate: '/etc/istio/ingress-certs/tls.crt',
                privateKey: '/etc/istio/ingress-certs/tls.key',
              },
              {
                serverCertificate: '/etc/istio/ingress-certs/tls2.crt',
                privateKey: '/etc/istio/ingress-certs/tls2.key',
              },
            ],
          },
        },
      ],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'ingress tls tlsCertificates is not supported in IPv6',
    in: {
      ingress: [
        {
          port: { protocol: 'tcp', number: 90, name: 'foo' },
          defaultEndpoint: '[::1]:9999',
          tls: {
            mode: 'SIMPLE',
            tlsCertificates: [
              {
                serverCertificate: '/etc/istio/ingress-certs/tls.crt',
                privateKey: '/etc/istio/ingress-certs/tls.key',
              },
              {
                serverCertificate: '/etc/istio/ingress-certs/tls2.crt',
                privateKey: '/etc/istio/ingress-certs/tls2.key',
              },
            ],
          },
        },
      ],
    },
    valid: false,
    warn: false,
  },
  {
    name: 'valid inbound connection pool',
    in: {
      inboundConnectionPool: {
        http: {
          http1MaxPendingRequests: 1024,
          http2MaxRequests: 1024,
          maxRequestsPerConnection: 1024,
          maxRetries: 1024,
        },
      },
    },
    valid: true,
    warn: false,
  },
  {
    name: 'valid port-level connection pool with top level default',
    in: {
      ingress: [
        {
          port: { protocol: 'http', number: 90, name: 'foo' },
          connectionPool: {
            http: {
              http1MaxPendingRequests: 1024,
              http2MaxRequests: 1024,
              maxRequestsPerConnection: 1024,
              maxRetries: 1024,
            },
          },
        },
      ],
      inboundConnectionPool: {
        http: {
          http1MaxPendingRequests: 1024,
          http2MaxRequests: 1024,
          maxRequestsPerConnection: 1024,
          maxRetries: 1024,
        },
      },
    },
    valid: true,
    warn: false,
  },
  {
    name: 'valid port-level connection pool without a top level default',
    in: {
      ingress: [
        {
          port: { protocol: 'http', number: 90, name: 'foo' },
          connectionPool: {
            http: {
              http1MaxPendingRequests: 1024,
              http2MaxRequests: 1024,
              maxRequestsPerConnection: 1024,
              maxRetries: 1024,
            },
          },
        },
      ],
    },
    valid: true,
    warn: false,
  },
  {
    name: 'warn http connection settings on tcp port',
    in: {
      ingress: [
        {
          port: { protocol: 'tcp', number: 90, name: 'foo' },
          connectionPool: {
            http: {
              http1MaxPendingRequests: 1024,
              http2MaxRequests: 1024,
              maxRequestsPerConnection: 1024,
              maxRetries: 1024,
            },
          },
        },
      ],
    },
    valid: true,
    warn: true,
  },
  {
    name: 'invalid top level connection pool',
    in: { inboundConnectionPool: {} },
    valid: false,
    warn: false,
  },
  {
    name: 'invalid port-level connection pool',
    in: { ingress: [{ port: { protocol: 'tcp', number: 90, name: 'foo' }, connectionPool: {} }] },
    valid: false,
    warn: false,
  },
];
  it.each(cases)('$name', (tc) => expectValidity(sidecar(tc.in), tc.valid, tc.warn));
});

describe('Sidecar: paths, wording and Istio semantics', () => {
  const find = (c: Collector, path: string) => [...c.errors, ...c.warnings].filter((f) => f.path === path).map((f) => f.message);
  const ingress = (defaultEndpoint: string) => sidecar({ ingress: [{ port: { number: 9080, protocol: 'HTTP', name: 'http' }, defaultEndpoint }] });

  it.each(['127.0.0.1:8080', '0.0.0.0:8080', '[::1]:8080', '[::]:8080', ':8080', 'unix:///var/run/app.sock', 'unix://@abstract'])('accepts defaultEndpoint %s', (ep) => {
    expectValidity(ingress(ep), true);
  });

  it.each([
    ['10.0.0.1:8080', 'sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,[::]:port,unix://filepath or unset'],
    ['127.0.0.1', 'address 127.0.0.1: missing port in address'],
    ['127.0.0.1:http', 'sidecar: defaultEndpoint port (http) is not a number: strconv.Atoi: parsing "http": invalid syntax'],
    ['127.0.0.1:0', 'port number 0 must be in the range 1..65535'],
    ['unix://relative', 'relative is not an absolute path to a file'],
  ])('rejects defaultEndpoint %s', (ep, msg) => {
    expect(find(ingress(ep), 'spec.ingress[0].defaultEndpoint')).toContain(msg);
  });

  it('warns about duplicated egress hosts and `*/*` with other hosts', () => {
    const c = sidecar({ egress: [{ hosts: ['./a.com', 'bar/a.com', 'ns/*', 'ns/b.com', '*/*'] }] });
    expect(c.errors).toEqual([]);
    expect(c.warnings.map((w) => `${w.path}: ${w.message}`)).toEqual([
      'spec.egress[0].hosts[1]: duplicated egress host: bar/a.com',
      'spec.egress[0].hosts[3]: duplicated egress host: ns/b.com',
      'spec.egress[0].hosts: `*/*` host select all resources, no other hosts can be added',
    ]);
  });

  it('requires the port-less egress listener to be the last and unique', () => {
    const c = sidecar({ egress: [{ hosts: ['./*'] }, { port: { number: 80, protocol: 'HTTP', name: 'http' }, hosts: ['./*'] }] });
    expect(find(c, 'spec.egress[0]')).toEqual(['sidecar: the egress listener with empty port should be the last listener in the list']);
  });

  it('validates the egress proxy of outboundTrafficPolicy', () => {
    expect(find(sidecar({ outboundTrafficPolicy: { egressProxy: { host: 'proxy.ns.svc.cluster.local', port: { number: 80 } } } }), 'spec.outboundTrafficPolicy.egressProxy')).toEqual([
      'sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode',
    ]);
    expectValidity(sidecar({ outboundTrafficPolicy: { mode: 'ALLOW_ANY', egressProxy: { host: 'proxy.ns.svc.cluster.local', subset: 'v1', port: { number: 80 } } } }), true);
    expectMessages(sidecar({ outboundTrafficPolicy: { mode: 'ALLOW_ANY_DYNAMIC_DNS' } }), 'sidecar: ALLOW_ANY_DYNAMIC_DNS mode is only supported in MeshConfig, not in Sidecar resource');
  });

  it('warns when HTTP pool settings target a non-HTTP ingress port', () => {
    const c = sidecar({ ingress: [{ port: { number: 5432, protocol: 'TCP', name: 'db' }, connectionPool: { http: { maxRetries: 1 } } }] });
    expect(find(c, 'spec.ingress[0].connectionPool.http')).toEqual([
      'sidecar: HTTP connection pool settings are configured for port 5432 ("db") but its protocol is not HTTP (TCP); only TCP settings will apply',
    ]);
  });

  it('returns early on an empty Sidecar or a bad selector', () => {
    expect(sidecar({ workloadSelector: {} }).errors.map((e) => e.message)).toEqual(['sidecar: empty configuration provided']);
    expect(sidecar({ workloadSelector: { labels: { '': 'x' } }, egress: [{ hosts: ['bad'] }] }).errors.map((e) => e.message)).toEqual(['empty key is not supported in selector: "=x"']);
  });
});
