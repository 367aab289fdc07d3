/**
 * Gateway semantic validation, translated from Istio's Go tests TestValidateGateway,
 * TestValidateK8sGateway, TestValidateServer, TestValidateServerPort and TestValidateTlsOptions
 * (pkg/config/validation/validation_test.go at 86c9f01fd735).
 */
import { describe, expect, it } from 'vitest';
import { validateGateway, validateServer, validateServerPort, validateTLSOptions } from '../src/validate/semantic/gateway.js';
import { collector, expectMessages, expectValidity, expectWellFormed, runValidator, type Collector } from './support/semantic-networking.js';

function gateway(spec: unknown, annotations: Record<string, string> = {}): Collector {
  const c = runValidator(validateGateway, 'Gateway', spec, { name: 'foo', namespace: 'bar', annotations });
  expectWellFormed(c);
  return c;
}

function part(fn: (c: Collector) => void): Collector {
  const c = collector();
  fn(c);
  expectWellFormed(c);
  return c;
}

interface Case {
  name: string;
  in: any;
  out: string;
  warning?: string;
}

describe('TestValidateGateway', () => {
  // Go's "invalid message" case (a Server passed where a Gateway is expected) has no YAML form.
  const cases: Case[] = ([
  { name: 'empty', in: {}, out: 'server', warning: '' },
  { name: 'invalid message', in: {}, out: 'cannot cast', warning: '' },
  {
    name: 'happy domain',
    in: { servers: [{ hosts: ['foo.bar.com'], port: { name: 'name1', number: 7, protocol: 'http' } }] },
    out: '',
    warning: '',
  },
  {
    name: 'happy multiple servers',
    in: { servers: [{ hosts: ['foo.bar.com'], port: { name: 'name1', number: 7, protocol: 'http' } }] },
    out: '',
    warning: '',
  },
  {
    name: 'happy k8s gateway-api server with no attached routes',
    in: { servers: [{ hosts: ['~/foo.bar.com'], port: { name: 'name1', number: 7, protocol: 'http' } }] },
    out: 'invalid namespace value',
    warning: '',
  },
  {
    name: 'invalid port',
    in: { servers: [{ hosts: ['foo.bar.com'], port: { name: 'name1', number: 66000, protocol: 'http' } }] },
    out: 'port',
    warning: '',
  },
  {
    name: 'duplicate port names',
    in: {
      servers: [
        { hosts: ['foo.bar.com'], port: { name: 'foo', number: 80, protocol: 'http' } },
        { hosts: ['scooby.doo.com'], port: { name: 'foo', number: 8080, protocol: 'http' } },
      ],
    },
    out: 'port names',
    warning: '',
  },
  {
    name: 'invalid domain',
    in: { servers: [{ hosts: ['foo.*.bar.com'], port: { number: 7, protocol: 'http' } }] },
    out: 'domain',
    warning: '',
  },
  {
    name: 'valid httpsRedirect',
    in: {
      servers: [
        {
          hosts: ['bar.com'],
          port: { name: 'http', number: 80, protocol: 'http' },
          tls: { httpsRedirect: true },
        },
      ],
    },
    out: '',
    warning: '',
  },
  {
    name: 'invalid https httpsRedirect',
    in: {
      servers: [
        {
          hosts: ['bar.com'],
          port: { name: 'https', number: 80, protocol: 'https' },
          tls: { httpsRedirect: true },
        },
      ],
    },
    out: '',
    warning: 'tls.httpsRedirect should only be used with http servers',
  },
  {
    name: 'invalid partial wildcard',
    in: {
      servers: [
        {
          hosts: ['*bar.com'],
          port: { name: 'tls', number: 443, protocol: 'tls' },
          tls: { mode: 'ISTIO_MUTUAL' },
        },
      ],
    },
    out: 'partial wildcard "*bar.com" not allowed',
    warning: '',
  },
] as Case[]).filter((c) => c.name !== 'invalid message');
  it.each(cases)('$name', (tc) => expectMessages(gateway(tc.in), tc.out, tc.warning ?? ''));
});

describe('TestValidateK8sGateway', () => {
  const cases: Case[] = [
  {
    name: 'happy k8s gateway-api server with no attached routes',
    in: { servers: [{ hosts: ['~/foo.bar.com'], port: { name: 'name1', number: 7, protocol: 'http' } }] },
    out: '',
    warning: '',
  },
];
  it.each(cases)('$name', (tc) => expectMessages(gateway(tc.in, { 'internal.istio.io/gateway-semantics': 'gateway' }), tc.out, tc.warning ?? ''));
});

describe('TestValidateServer', () => {
  const cases: Case[] = [
  { name: 'empty', in: {}, out: 'host' },
  { name: 'empty', in: {}, out: 'port' },
  {
    name: 'happy',
    in: { hosts: ['foo.bar.com'], port: { number: 7, name: 'http', protocol: 'http' } },
    out: '',
  },
  {
    name: 'happy ip',
    in: { hosts: ['1.1.1.1'], port: { number: 7, name: 'http', protocol: 'http' } },
    out: '',
  },
  {
    name: 'happy ns/name',
    in: { hosts: ['ns1/foo.bar.com'], port: { number: 7, name: 'http', protocol: 'http' } },
    out: '',
  },
  {
    name: 'happy */name',
    in: { hosts: ['*/foo.bar.com'], port: { number: 7, name: 'http', protocol: 'http' } },
    out: '',
  },
  {
    name: 'happy ./name',
    in: { hosts: ['./foo.bar.com'], port: { number: 7, name: 'http', protocol: 'http' } },
    out: '',
  },
  {
    name: 'invalid ~/name',
    in: { hosts: ['~/foo.bar.com'], port: { number: 7, name: 'http', protocol: 'http' } },
    out: 'namespace',
  },
  {
    name: 'invalid domain ns/name format',
    in: { hosts: ['ns1/foo.*.bar.com'], port: { number: 7, name: 'http', protocol: 'http' } },
    out: 'domain',
  },
  {
    name: 'invalid domain',
    in: { hosts: ['foo.*.bar.com'], port: { number: 7, name: 'http', protocol: 'http' } },
    out: 'domain',
  },
  {
    name: 'invalid short name host',
    in: { hosts: ['foo'], port: { number: 7, name: 'http', protocol: 'http' } },
    out: 'short names',
  },
  {
    name: 'invalid port',
    in: { hosts: ['foo.bar.com'], port: { number: 66000, name: 'http', protocol: 'http' } },
    out: 'port',
  },
  {
    name: 'invalid tls options',
    in: {
      hosts: ['foo.bar.com'],
      port: { number: 1, name: 'http', protocol: 'http' },
      tls: { mode: 'SIMPLE' },
    },
    out: 'TLS',
  },
  {
    name: 'no tls on HTTPS',
    in: { hosts: ['foo.bar.com'], port: { number: 10000, name: 'https', protocol: 'https' } },
    out: 'must have TLS',
  },
  {
    name: 'tls on HTTP',
    in: {
      hosts: ['foo.bar.com'],
      port: { number: 10000, name: 'http', protocol: 'http' },
      tls: { mode: 'SIMPLE' },
    },
    out: 'cannot have TLS',
  },
  {
    name: 'tls redirect on HTTP',
    in: {
      hosts: ['foo.bar.com'],
      port: { number: 10000, name: 'http', protocol: 'http' },
      tls: { httpsRedirect: true },
    },
    out: '',
  },
  {
    name: 'bind ip',
    in: { hosts: ['foo.bar.com'], port: { number: 7, name: 'http', protocol: 'http' }, bind: '127.0.0.1' },
    out: '',
  },
  {
    name: 'bind unix path with invalid port',
    in: {
      hosts: ['foo.bar.com'],
      port: { number: 7, name: 'http', protocol: 'http' },
      bind: 'unix://@foobar',
    },
    out: 'port number must be 0 for unix domain socket',
  },
  {
    name: 'bind unix path',
    in: {
      hosts: ['foo.bar.com'],
      port: { number: 0, name: 'http', protocol: 'http' },
      bind: 'unix://@foobar',
    },
    out: '',
  },
  {
    name: 'bind bad ip',
    in: { hosts: ['foo.bar.com'], port: { number: 0, name: 'http', protocol: 'http' }, bind: 'foo.bar' },
    out: 'foo.bar is not a valid IP',
  },
];
  it.each(cases)('$name', (tc) => expectMessages(part((c) => validateServer(c, ['spec', 'servers', 0], tc.in, false)), tc.out, ''));
});

describe('TestValidateServerPort', () => {
  const cases: { name: string; in: any; bind: string; out: string }[] = [
  { name: 'empty', in: {}, bind: '', out: 'invalid protocol' },
  { name: 'empty', in: {}, bind: '', out: 'port name' },
  { name: 'happy', in: { protocol: 'http', number: 1, name: 'Henry' }, bind: '', out: '' },
  {
    name: 'invalid protocol',
    in: { protocol: 'kafka', number: 1, name: 'Henry' },
    bind: '',
    out: 'invalid protocol',
  },
  {
    name: 'invalid number',
    in: { protocol: 'http', number: 1073741824, name: 'http' },
    bind: '',
    out: 'port number',
  },
  {
    name: 'name, no number',
    in: { protocol: 'http', number: 0, name: 'Henry' },
    bind: '',
    out: 'port number',
  },
  {
    name: 'name, no number, uds',
    in: { protocol: 'http', number: 0, name: 'Henry' },
    bind: 'uds:///tmp',
    out: 'port number',
  },
];
  it.each(cases)('$name', (tc) => expectMessages(part((c) => validateServerPort(c, ['spec', 'servers', 0, 'port'], tc.in, tc.bind)), tc.out));
});

describe('TestValidateTlsOptions', () => {
  const cases: Case[] = [
  { name: 'empty', in: {}, out: '', warning: '' },
  {
    name: 'simple',
    in: { mode: 'SIMPLE', serverCertificate: 'Captain Jean-Luc Picard', privateKey: 'Khan Noonien Singh' },
    out: '',
    warning: '',
  },
  {
    name: 'simple with client bundle',
    in: {
      mode: 'SIMPLE',
      serverCertificate: 'Captain Jean-Luc Picard',
      privateKey: 'Khan Noonien Singh',
      caCertificates: 'Commander William T. Riker',
    },
    out: '',
    warning: '',
  },
  {
    name: 'simple sds with client bundle',
    in: { mode: 'SIMPLE', credentialName: 'sds-name' },
    out: '',
    warning: '',
  },
  {
    name: 'simple sds with client bundle but with server cert',
    in: {
      mode: 'SIMPLE',
      serverCertificate: 'Captain Jean-Luc Picard',
      privateKey: 'Khan Noonien Singh',
      credentialName: 'sds-name',
    },
    out: 'one of credential_name, credential_names',
    warning: '',
  },
  {
    name: 'simple no server cert',
    in: { mode: 'SIMPLE', serverCertificate: '', privateKey: 'Khan Noonien Singh' },
    out: 'server certificate',
    warning: '',
  },
  {
    name: 'simple no private key',
    in: { mode: 'SIMPLE', serverCertificate: 'Captain Jean-Luc Picard', privateKey: '' },
    out: 'private key',
    warning: '',
  },
  {
    name: 'simple more than 2 certs',
    in: {
      mode: 'SIMPLE',
      tlsCertificates: [
        { serverCertificate: 'Captain Jean-Luc Picard', privateKey: 'Khan Noonien Singh' },
        { serverCertificate: 'Commander William T. Riker', privateKey: 'Commander William T. Riker' },
        { serverCertificate: 'Lieutenant Commander Data', privateKey: 'Lieutenant Commander Data' },
      ],
    },
    out: '',
    warning: 'SIMPLE TLS can support up to 2 server certificates',
  },
  {
    name: 'simple with both server cert and tls certs',
    in: {
      mode: 'SIMPLE',
      serverCertificate: 'Captain Jean-Luc Picard',
      privateKey: 'Khan Noonien Singh',
      tlsCertificates: [
        { serverCertificate: 'Captain Jean-Luc Picard', privateKey: 'Khan Noonien Singh' },
        { serverCertificate: 'Lieutenant Commander Data', privateKey: 'Lieutenant Commander Data' },
      ],
    },
    out: 'one of credential_name, credential_names',
    warning: '',
  },
  {
    name: 'simple 2 certs with missing certificate',
    in: {
      mode: 'SIMPLE',
      tlsCertificates: [
        { privateKey: 'Commander William T. Riker' },
        { serverCertificate: 'Commander William T. Riker', privateKey: 'Commander William T. Riker' },
      ],
    },
    out: 'server certificate',
    warning: '',
  },
  {
    name: 'simple 2 certs with missing private key',
    in: {
      mode: 'SIMPLE',
      tlsCertificates: [
        { serverCertificate: 'Captain Jean-Luc Picard' },
        { serverCertificate: 'Commander William T. Riker', privateKey: 'Commander William T. Riker' },
      ],
    },
    out: 'private key',
    warning: '',
  },
  {
    name: 'simple sds no server cert',
    in: {
      mode: 'SIMPLE',
      serverCertificate: '',
      privateKey: 'Khan Noonien Singh',
      credentialName: 'sds-name',
    },
    out: '',
    warning: '',
  },
  {
    name: 'simple sds no private key',
    in: {
      mode: 'SIMPLE',
      serverCertificate: 'Captain Jean-Luc Picard',
      privateKey: '',
      credentialName: 'sds-name',
    },
    out: '',
    warning: '',
  },
  {
    name: 'mutual',
    in: {
      mode: 'MUTUAL',
      serverCertificate: 'Captain Jean-Luc Picard',
      privateKey: 'Khan Noonien Singh',
      caCertificates: 'Commander William T. Riker',
    },
    out: '',
    warning: '',
  },
  {
    name: 'mutual sds',
    in: { mode: 'MUTUAL', caCertificates: 'Commander William T. Riker', credentialName: 'sds-name' },
    out: '',
    warning: '',
  },
  {
    name: 'mutual sds with credential name and server cert',
    in: {
      mode: 'MUTUAL',
      serverCertificate: 'Captain Jean-Luc Picard',
      privateKey: 'Khan Noonien Singh',
      caCertificates: 'Commander William T. Riker',
      credentialName: 'sds-name',
    },
    out: 'one of credential_name, credential_names',
    warning: '',
  },
  {
    name: 'mutual sds with credential name and tls certs',
    in: {
      mode: 'MUTUAL',
      caCertificates: 'Commander William T. Riker',
      tlsCertificates: [{ serverCertificate: 'Captain Jean-Luc Picard', privateKey: 'Khan Noonien Singh' }],
      credentialName: 'sds-name',
    },
    out: 'one of credential_name, credential_names',
    warning: '',
  },
  {
    name: 'mutual no server cert',
    in: {
      mode: 'MUTUAL',
      serverCertificate: '',
      privateKey: 'Khan Noonien Singh',
      caCertificates: 'Commander William T. Riker',
    },
    out: 'server certificate',
    warning: '',
  },
  {
    name: 'credential names and certificates',
    in: {
      mode: 'MUTUAL',
      serverCertificate: '/etc/istio/certs/server/cert',
      privateKey: '/etc/istio/certs/server/key',
      credentialNames: ['server-certs'],
    },
    out: 'one of credential_name, credential_names',
    warning: '',
  },
  {
    name: 'credential names and tls certificates',
    in: {
      mode: 'MUTUAL',
      tlsCertificates: [
        {
          serverCertificate: '/etc/istio/certs/server/cert',
          privateKey: '/etc/istio/certs/server/key',
          caCertificates: '/etc/istio/certs/server/cacert2',
        },
      ],
      credentialNames: ['server-certs'],
    },
    out: 'one of credential_name, credential_names',
    warning: '',
  },
  {
    name: 'only tls certificates',
    in: {
      mode: 'MUTUAL',
      tlsCertificates: [{ serverCertificate: '/etc/istio/certs/server/cert', privateKey: '/etc/istio/certs/server/key' }],
      caCertificates: '/etc/istio/certs/server/cacert2',
    },
    out: '',
    warning: '',
  },
  {
    name: 'mutual sds no server cert',
    in: {
      mode: 'MUTUAL',
      serverCertificate: '',
      privateKey: 'Khan Noonien Singh',
      caCertificates: 'Commander William T. Riker',
      credentialName: 'sds-name',
    },
    out: '',
    warning: '',
  },
  {
    name: 'mutual no client CA bundle',
    in: {
      mode: 'MUTUAL',
      serverCertificate: 'Captain Jean-Luc Picard',
      privateKey: 'Khan Noonien Singh',
      caCertificates: '',
    },
    out: 'client CA bundle',
    warning: '',
  },
  {
    name: 'mutual no certs',
    in: { mode: 'MUTUAL', serverCertificate: '', privateKey: '', caCertificates: '' },
    out: 'server certificate',
    warning: '',
  },
  {
    name: 'mutual no certs',
    in: { mode: 'MUTUAL', serverCertificate: '', privateKey: '', caCertificates: '' },
    out: 'private key',
    warning: '',
  },
  {
    name: 'mutual no certs',
    in: { mode: 'MUTUAL', serverCertificate: '', privateKey: '', caCertificates: '' },
    out: 'client CA bundle',
    warning: '',
  },
  {
    name: 'mutual more than 2 certs',
    in: {
      mode: 'MUTUAL',
      caCertificates: 'Commander William T. Riker',
      tlsCertificates: [
        { serverCertificate: 'Captain Jean-Luc Picard', privateKey: 'Khan Noonien Singh' },
        { serverCertificate: 'Commander William T. Riker', privateKey: 'Commander William T. Riker' },
        { serverCertificate: 'Lieutenant Commander Data', privateKey: 'Lieutenant Commander Data' },
      ],
    },
    out: '',
    warning: 'MUTUAL TLS can support up to 2 server certificates',
  },
  {
    name: 'mutual with both server cert and tls certs',
    in: {
      mode: 'MUTUAL',
      serverCertificate: 'Captain Jean-Luc Picard',
      privateKey: 'Khan Noonien Singh',
      caCertificates: 'Commander William T. Riker',
      tlsCertificates: [
        { serverCertificate: 'Captain Jean-Luc Picard', privateKey: 'Khan Noonien Singh' },
        { serverCertificate: 'Lieutenant Commander Data', privateKey: 'Lieutenant Commander Data' },
      ],
    },
    out: 'one of credential_name, credential_names',
    warning: '',
  },
  {
    name: 'mutual 2 certs with missing certificate',
    in: {
      mode: 'MUTUAL',
      caCertificates: 'Lieutenant Commander Data',
      tlsCertificates: [
        { privateKey: 'Commander William T. Riker' },
        { serverCertificate: 'Commander William T. Riker', privateKey: 'Commander William T. Riker' },
      ],
    },
    out: 'server certificate',
    warning: '',
  },
  {
    name: 'mutual 2 certs with missing private key',
    in: {
      mode: 'MUTUAL',
      caCertificates: 'Lieutenant Commander Data',
      tlsCertificates: [
        { serverCertificate: 'Captain Jean-Luc Picard' },
        { serverCertificate: 'Commander William T. Riker', privateKey: 'Commander William T. Riker' },
      ],
    },
    out: 'private key',
    warning: '',
  },
  {
    name: 'mutual 2 certs with missing CA certificate',
    in: {
      mode: 'MUTUAL',
      tlsCertificates: [
        { serverCertificate: 'Captain Jean-Luc Picard', privateKey: 'Khan Noonien Singh' },
        { serverCertificate: 'Commander William T. Riker', privateKey: 'Commander William T. Riker' },
      ],
    },
    out: 'client CA bundle',
    warning: '',
  },
  {
    name: 'optional mutual no certs',
    in: { mode: 'OPTIONAL_MUTUAL', serverCertificate: '', privateKey: '', caCertificates: '' },
    out: 'server certificate',
    warning: '',
  },
  {
    name: 'optional mutual no certs',
    in: { mode: 'OPTIONAL_MUTUAL', serverCertificate: '', privateKey: '', caCertificates: '' },
    out: 'private key',
    warning: '',
  },
  {
    name: 'optional mutual no certs',
    in: { mode: 'OPTIONAL_MUTUAL', serverCertificate: '', privateKey: '', caCertificates: '' },
    out: 'client CA bundle',
    warning: '',
  },
  {
    name: 'pass through sds no certs',
    in: { mode: 'PASSTHROUGH', serverCertificate: '', caCertificates: '', credentialName: 'sds-name' },
    out: '',
    warning: 'PASSTHROUGH mode does not use certificates',
  },
  {
    name: 'pass through sds crl',
    in: { mode: 'PASSTHROUGH', serverCertificate: '', caCertificates: '', caCrl: 'scrl' },
    out: '',
    warning: 'PASSTHROUGH mode does not use certificates',
  },
  {
    name: 'istio_mutual no certs',
    in: { mode: 'ISTIO_MUTUAL', serverCertificate: '', privateKey: '', caCertificates: '' },
    out: '',
    warning: '',
  },
  {
    name: 'istio_mutual with server cert',
    in: { mode: 'ISTIO_MUTUAL', serverCertificate: 'Captain Jean-Luc Picard' },
    out: 'cannot have associated server cert',
    warning: '',
  },
  {
    name: 'istio_mutual with client bundle',
    in: {
      mode: 'ISTIO_MUTUAL',
      serverCertificate: 'Captain Jean-Luc Picard',
      privateKey: 'Khan Noonien Singh',
      caCertificates: 'Commander William T. Riker',
    },
    out: 'cannot have associated',
    warning: '',
  },
  {
    name: 'istio_mutual with private key',
    in: { mode: 'ISTIO_MUTUAL', privateKey: 'Khan Noonien Singh' },
    out: 'cannot have associated private key',
    warning: '',
  },
  {
    name: 'istio_mutual with credential name',
    in: { mode: 'ISTIO_MUTUAL', credentialName: 'some-cred' },
    out: 'cannot have associated credentialName',
    warning: '',
  },
  {
    name: 'invalid cipher suites',
    in: { mode: 'SIMPLE', credentialName: 'sds-name', cipherSuites: ['not-a-cipher-suite'] },
    out: '',
    warning: 'not-a-cipher-suite',
  },
  {
    name: 'valid cipher suites',
    in: { mode: 'SIMPLE', credentialName: 'sds-name', cipherSuites: ['ECDHE-ECDSA-AES128-SHA'] },
    out: '',
    warning: '',
  },
  {
    name: 'cipher suites operations',
    in: { mode: 'SIMPLE', credentialName: 'sds-name', cipherSuites: ['-ECDHE-ECDSA-AES128-SHA'] },
    out: '',
    warning: '',
  },
  {
    name: 'duplicate cipher suites',
    in: {
      mode: 'SIMPLE',
      credentialName: 'sds-name',
      cipherSuites: ['ECDHE-ECDSA-AES128-SHA', 'ECDHE-ECDSA-AES128-SHA'],
    },
    out: '',
    warning: 'ECDHE-ECDSA-AES128-SHA',
  },
  {
    name: 'invalid cipher suites with invalid config',
    in: { mode: 'SIMPLE', cipherSuites: ['not-a-cipher-suite'] },
    out: 'requires a private key',
    warning: 'not-a-cipher-suite',
  },
  {
    name: 'crl specified for SIMPLE TLS',
    in: { mode: 'SIMPLE', caCrl: 'crl' },
    out: 'CRL is not supported with SIMPLE TLS',
    warning: '',
  },
  {
    name: 'crl specified for CredentialName',
    in: { mode: 'SIMPLE', caCrl: 'crl', credentialName: 'credential' },
    out: '',
    warning: '',
  },
  {
    name: 'mutual no server cert',
    in: {
      mode: 'MUTUAL',
      serverCertificate: '',
      privateKey: 'Khan Noonien Singh',
      caCertificates: 'Commander William T. Riker',
    },
    out: 'MUTUAL TLS requires a server certificate',
    warning: '',
  },
  {
    name: 'mutual no private key',
    in: {
      mode: 'MUTUAL',
      serverCertificate: 'Khan Noonien Singh',
      privateKey: '',
      caCertificates: 'Commander William T. Riker',
    },
    out: 'MUTUAL TLS requires a private key',
    warning: '',
  },
  {
    name: 'with CredentialNames',
    in: { mode: 'MUTUAL', credentialNames: ['credential1', 'credential2'] },
    out: '',
    warning: '',
  },
];
  it.each(cases)('$name', (tc) => expectMessages(part((c) => validateTLSOptions(c, ['spec', 'servers', 0, 'tls'], tc.in)), tc.out, tc.warning ?? ''));
});

describe('Gateway: paths, wording and Istio semantics', () => {
  const find = (c: Collector, path: string) => [...c.errors, ...c.warnings].filter((f) => f.path === path).map((f) => f.message);
  const server = { hosts: ['*/bookinfo.example.com'], port: { number: 80, name: 'http', protocol: 'HTTP' } };

  it('requires a DNS-1123 label as the Gateway name, except for Gateway API conversions', () => {
    const bad = runValidator(validateGateway, 'Gateway', { servers: [server] }, { name: 'my.gateway', namespace: 'ns' });
    expect(find(bad, 'metadata.name')).toEqual(['invalid gateway name: "my.gateway"']);
    const converted = runValidator(validateGateway, 'Gateway', { servers: [server] }, { name: 'my.gateway', namespace: 'ns', annotations: { 'internal.istio.io/gateway-semantics': 'gateway' } });
    expect(converted.errors).toEqual([]);
  });

  it('reports server problems at their fields', () => {
    const c = gateway({ servers: [{ hosts: ['ns/*bar.com'], port: { number: 443, name: 'https', protocol: 'HTTPS', targetPort: 8443 } }] });
    expect(find(c, 'spec.servers[0].hosts[0]')).toEqual(['partial wildcard "*bar.com" not allowed']);
    expect(find(c, 'spec.servers[0].port.targetPort')).toEqual(['targetPort has no impact on Gateways']);
  });

  it('checks the TLS settings against the protocol', () => {
    expect(find(gateway({ servers: [{ ...server, port: { number: 443, name: 'https', protocol: 'HTTPS' } }] }), 'spec.servers[0].tls')).toEqual(['server must have TLS settings for HTTPS/TLS protocols']);
    expect(find(gateway({ servers: [{ ...server, port: { number: 9000, name: 'tcp', protocol: 'TCP' }, tls: { mode: 'SIMPLE', credentialName: 'c' } }] }), 'spec.servers[0].tls')).toEqual([
      'server cannot have TLS settings for non HTTPS/TLS ports',
    ]);
    expectValidity(gateway({ servers: [{ ...server, tls: { httpsRedirect: true } }] }), true, false);
    const redirect = gateway({ servers: [{ ...server, port: { number: 443, name: 'https', protocol: 'HTTPS' }, tls: { mode: 'SIMPLE', credentialName: 'c', httpsRedirect: true } }] });
    expect(find(redirect, 'spec.servers[0].tls.httpsRedirect')).toEqual(['tls.httpsRedirect should only be used with http servers']);
  });

  it('warns about invalid and duplicate cipher suites, lets OpenSSL operators through', () => {
    const c = gateway({ servers: [{ ...server, port: { number: 443, name: 'https', protocol: 'HTTPS' }, tls: { mode: 'SIMPLE', credentialName: 'c', cipherSuites: ['bogus', 'AES128-SHA', 'AES128-SHA', '!RC4'] } }] });
    expect(c.errors).toEqual([]);
    expect(find(c, 'spec.servers[0].tls.cipherSuites')).toEqual(['ignoring invalid cipher suites: [bogus]', 'ignoring duplicate cipher suites: [AES128-SHA]']);
  });

  it('accepts unix socket binds with port 0 only', () => {
    expectValidity(gateway({ servers: [{ ...server, bind: 'unix:///var/run/gw.sock', port: { number: 0, name: 'http', protocol: 'HTTP' } }] }), true);
    expect(find(gateway({ servers: [{ ...server, bind: 'unix:///var/run/gw.sock' }] }), 'spec.servers[0].port.number')).toEqual([
      'port number must be 0 for unix domain socket: number:80 protocol:"HTTP" name:"http"',
    ]);
    expect(find(gateway({ servers: [{ ...server, bind: '10.0.0.01' }] }), 'spec.servers[0].bind')).toEqual(['10.0.0.01 is not a valid IP']);
  });
});
