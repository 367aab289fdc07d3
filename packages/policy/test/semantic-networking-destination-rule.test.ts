/**
 * DestinationRule semantic validation, translated from Istio's Go tests
 * (pkg/config/validation/validation_test.go and agent/validation_test.go at 86c9f01fd735).
 */
import { describe, expect, it } from 'vitest';
import { validateDestinationRule } from '../src/validate/semantic/destination-rule.js';
import {
  isPrime,
  validateClientTLS,
  validateConnectionPool,
  validateLoadBalancer,
  validateLocalities,
  validateLocalityLbSetting,
  validateOutlierDetection,
  validateTrafficPolicy,
  validateZoneAwareLbSetting,
} from '../src/validate/semantic/traffic-policy.js';
import { collector, expectMessages, expectValidity, expectWellFormed, runValidator, type Collector } from './support/semantic-networking.js';

function dr(spec: unknown, meta: Record<string, unknown> = { name: 'foo', namespace: 'bar' }): Collector {
  const c = runValidator(validateDestinationRule, 'DestinationRule', spec, meta);
  expectWellFormed(c);
  return c;
}

function part(fn: (c: Collector) => void): Collector {
  const c = collector();
  fn(c);
  expectWellFormed(c);
  return c;
}

const P = ['spec', 'trafficPolicy'];

describe('TestValidateDestinationRule', () => {
  const cases: { name: string; in: any; valid: boolean; warning?: boolean }[] = [
  {
    name: 'simple destination rule',
    in: {
      host: 'reviews',
      subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }],
    },
    valid: true,
  },
  {
    name: 'simple destination rule with empty selector labels',
    in: {
      host: 'reviews',
      subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }],
      workloadSelector: {},
    },
    valid: true,
    warning: true,
  },
  {
    name: 'missing destination name',
    in: {
      host: '',
      subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }],
    },
    valid: false,
  },
  {
    name: 'missing subset name',
    in: {
      host: 'reviews',
      subsets: [{ name: '', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }],
    },
    valid: false,
  },
  {
    name: 'duplicate subset names',
    in: {
      host: 'reviews',
      subsets: [{ name: 'foo', labels: { version: 'v1' } }, { name: 'foo', labels: { version: 'v2' } }],
    },
    valid: false,
  },
  {
    name: 'valid traffic policy, top level',
    in: {
      host: 'reviews',
      trafficPolicy: {
        loadBalancer: { simple: 'ROUND_ROBIN' },
        connectionPool: { tcp: { maxConnections: 7 }, http: { http2MaxRequests: 11 } },
        outlierDetection: { minHealthPercent: 20 },
      },
      subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }],
    },
    valid: true,
  },
  {
    name: 'invalid traffic policy, top level',
    in: {
      host: 'reviews',
      trafficPolicy: {
        loadBalancer: { simple: 'ROUND_ROBIN' },
        connectionPool: {},
        outlierDetection: { minHealthPercent: 20 },
      },
      subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v2', labels: { version: 'v2' } }],
    },
    valid: false,
  },
  {
    name: 'valid traffic policy, subset level',
    in: {
      host: 'reviews',
      subsets: [
        {
          name: 'v1',
          labels: { version: 'v1' },
          trafficPolicy: {
            loadBalancer: { simple: 'ROUND_ROBIN' },
            connectionPool: { tcp: { maxConnections: 7 }, http: { http2MaxRequests: 11 } },
            outlierDetection: { minHealthPercent: 20 },
          },
        },
        { name: 'v2', labels: { version: 'v2' } },
      ],
    },
    valid: true,
  },
  {
    name: 'invalid traffic policy, subset level',
    in: {
      host: 'reviews',
      subsets: [
        {
          name: 'v1',
          labels: { version: 'v1' },
          trafficPolicy: {
            loadBalancer: { simple: 'ROUND_ROBIN' },
            connectionPool: {},
            outlierDetection: { minHealthPercent: 20 },
          },
        },
        { name: 'v2', labels: { version: 'v2' } },
      ],
    },
    valid: false,
  },
  {
    name: 'valid traffic policy, both levels',
    in: {
      host: 'reviews',
      trafficPolicy: {
        loadBalancer: { simple: 'ROUND_ROBIN' },
        connectionPool: { tcp: { maxConnections: 7 }, http: { http2MaxRequests: 11 } },
        outlierDetection: { minHealthPercent: 20 },
      },
      subsets: [
        {
          name: 'v1',
          labels: { version: 'v1' },
          trafficPolicy: {
            loadBalancer: { simple: 'ROUND_ROBIN' },
            connectionPool: { tcp: { maxConnections: 7 }, http: { http2MaxRequests: 11 } },
            outlierDetection: { minHealthPercent: 30 },
          },
        },
        { name: 'v2', labels: { version: 'v2' } },
      ],
    },
    valid: true,
  },
  {
    name: 'InsecureSkipVerify is not specified with tls mode simple, and the ca cert is specified by CaCertificates',
    in: {
      host: 'reviews',
      trafficPolicy: { tls: { mode: 'SIMPLE', caCertificates: 'test', subjectAltNames: ['reviews.default.svc'] } },
    },
    valid: true,
  },
  {
    name: 'InsecureSkipVerify is not specified with tls mode simple, and the ca cert is specified by CredentialName',
    in: {
      host: 'reviews',
      trafficPolicy: { tls: { mode: 'SIMPLE', credentialName: 'test', subjectAltNames: ['reviews.default.svc'] } },
    },
    valid: true,
  },
  {
    name: 'InsecureSkipVerify is set false with tls mode simple, and the ca cert is specified by CaCertificates',
    in: {
      host: 'reviews',
      trafficPolicy: {
        tls: {
          mode: 'SIMPLE',
          caCertificates: 'test',
          subjectAltNames: ['reviews.default.svc'],
          insecureSkipVerify: false,
        },
      },
    },
    valid: true,
  },
  {
    name: 'InsecureSkipVerify is set false with tls mode simple, and the ca cert is specified by CredentialName',
    in: {
      host: 'reviews',
      trafficPolicy: {
        tls: {
          mode: 'SIMPLE',
          credentialName: 'test',
          subjectAltNames: ['reviews.default.svc'],
          insecureSkipVerify: false,
        },
      },
    },
    valid: true,
  },
  {
    name: 'InsecureSkipVerify is set true with tls mode simple, and the ca cert is specified by CaCertificates',
    in: {
      host: 'reviews',
      trafficPolicy: { tls: { mode: 'SIMPLE', credentialName: 'test', insecureSkipVerify: true } },
    },
    valid: false,
  },
  {
    name: 'InsecureSkipVerify is set true with tls mode simple, and the ca cert is specified by CredentialName',
    in: {
      host: 'reviews',
      trafficPolicy: { tls: { mode: 'SIMPLE', caCertificates: 'test', insecureSkipVerify: true } },
    },
    valid: false,
  },
  {
    name: 'InsecureSkipVerify is set true with tls mode simple, and the san is specified',
    in: {
      host: 'reviews',
      trafficPolicy: { tls: { mode: 'SIMPLE', subjectAltNames: ['reviews.default.svc'], insecureSkipVerify: true } },
    },
    valid: false,
  },
  {
    name: 'InsecureSkipVerify is not specified with tls mode mutual, and the ca cert is specified by CaCertificates',
    in: {
      host: 'reviews',
      trafficPolicy: {
        tls: {
          mode: 'MUTUAL',
          caCertificates: 'test',
          privateKey: 'key',
          clientCertificate: 'cert',
          subjectAltNames: ['reviews.default.svc'],
        },
      },
    },
    valid: true,
  },
  {
    name: 'InsecureSkipVerify is not specified with tls mode mutual, and the ca cert is specified by CredentialName',
    in: {
      host: 'reviews',
      trafficPolicy: { tls: { mode: 'MUTUAL', credentialName: 'test', subjectAltNames: ['reviews.default.svc'] } },
    },
    valid: true,
  },
  {
    name: 'InsecureSkipVerify is set false with tls mode mutual, and the ca cert is specified by CaCertificates',
    in: {
      host: 'reviews',
      trafficPolicy: {
        tls: {
          mode: 'MUTUAL',
          caCertificates: 'test',
          privateKey: 'key',
          clientCertificate: 'cert',
          subjectAltNames: ['reviews.default.svc'],
          insecureSkipVerify: false,
        },
      },
    },
    valid: true,
  },
  {
    name: 'InsecureSkipVerify is set false with tls mode mutual, and the ca cert is specified by CredentialName',
    in: {
      host: 'reviews',
      trafficPolicy: {
        tls: {
          mode: 'MUTUAL',
          credentialName: 'test',
          subjectAltNames: ['reviews.default.svc'],
          insecureSkipVerify: false,
        },
      },
    },
    valid: true,
  },
  {
    name: 'InsecureSkipVerify is set true with tls mode mutual, and the ca cert is specified by CaCertificates',
    in: {
      host: 'reviews',
      trafficPolicy: {
        tls: {
          mode: 'MUTUAL',
          caCertificates: 'test',
          privateKey: 'key',
          clientCertificate: 'cert',
          insecureSkipVerify: true,
        },
      },
    },
    valid: false,
  },
  {
    name: 'InsecureSkipVerify is set true with tls mode mutual, and the ca cert is specified by CaCertificates',
    in: {
      host: 'reviews',
      trafficPolicy: { tls: { mode: 'MUTUAL', credentialName: 'test', insecureSkipVerify: true } },
    },
    valid: true,
  },
  {
    name: 'InsecureSkipVerify is set true with tls mode mutual, and the ca cert is not specified',
    in: {
      host: 'reviews',
      trafficPolicy: { tls: { mode: 'MUTUAL', privateKey: 'key', clientCertificate: 'cert', insecureSkipVerify: true } },
    },
    valid: true,
  },
  {
    name: 'InsecureSkipVerify is set true with tls mode mutual, and the san is specified',
    in: {
      host: 'reviews',
      trafficPolicy: {
        tls: {
          mode: 'MUTUAL',
          privateKey: 'key',
          clientCertificate: 'cert',
          subjectAltNames: ['reviews.default.svc'],
          insecureSkipVerify: true,
        },
      },
    },
    valid: false,
  },
];
  it.each(cases)('$name', (tc) => expectValidity(dr(tc.in), tc.valid, tc.warning ?? false));
});

describe('TestValidateTrafficPolicy', () => {
  const cases: { name: string; in: any; valid: boolean }[] = [
  {
    name: 'valid traffic policy',
    in: {
      loadBalancer: { simple: 'ROUND_ROBIN' },
      connectionPool: { tcp: { maxConnections: 7 }, http: { http2MaxRequests: 11 } },
      outlierDetection: { minHealthPercent: 20 },
    },
    valid: true,
  },
  { name: 'invalid traffic policy, nil entries', in: {}, valid: false },
  {
    name: 'invalid traffic policy, missing port in port level settings',
    in: {
      portLevelSettings: [
        {
          loadBalancer: { simple: 'ROUND_ROBIN' },
          connectionPool: { tcp: { maxConnections: 7 }, http: { http2MaxRequests: 11 } },
          outlierDetection: { minHealthPercent: 20 },
        },
      ],
    },
    valid: false,
  },
  {
    name: 'invalid traffic policy, bad connection pool',
    in: {
      loadBalancer: { simple: 'ROUND_ROBIN' },
      connectionPool: {},
      outlierDetection: { minHealthPercent: 20 },
    },
    valid: false,
  },
  {
    name: 'invalid traffic policy, bad max connection duration',
    in: {
      loadBalancer: { simple: 'ROUND_ROBIN' },
      connectionPool: { tcp: { maxConnectionDuration: '0.0000005s' } },
    },
    valid: false,
  },
  {
    name: 'invalid traffic policy, panic threshold too low',
    in: {
      loadBalancer: { simple: 'ROUND_ROBIN' },
      connectionPool: { tcp: { maxConnections: 7 }, http: { http2MaxRequests: 11 } },
      outlierDetection: { minHealthPercent: -1 },
    },
    valid: false,
  },
  {
    name: 'invalid traffic policy, both upgrade and use client protocol set',
    in: { connectionPool: { http: { h2UpgradePolicy: 'UPGRADE', useClientProtocol: true } } },
    valid: false,
  },
];
  it.each(cases)('$name', (tc) => expectValidity(part((c) => validateTrafficPolicy(c, P, '', tc.in)), tc.valid));
});

describe('TestValidateConnectionPool', () => {
  const cases: { name: string; in: any; valid: boolean }[] = [
  {
    name: 'valid connection pool, tcp and http',
    in: {
      tcp: { maxConnections: 7, connectTimeout: '2s' },
      http: {
        http1MaxPendingRequests: 2,
        http2MaxRequests: 11,
        maxRequestsPerConnection: 5,
        maxRetries: 4,
        idleTimeout: '30s',
        maxConcurrentStreams: 5,
      },
    },
    valid: true,
  },
  {
    name: 'valid connection pool, tcp only',
    in: { tcp: { maxConnections: 7, connectTimeout: '2s' } },
    valid: true,
  },
  {
    name: 'valid connection pool, http only',
    in: {
      http: {
        http1MaxPendingRequests: 2,
        http2MaxRequests: 11,
        maxRequestsPerConnection: 5,
        maxRetries: 4,
        idleTimeout: '30s',
        maxConcurrentStreams: 5,
      },
    },
    valid: true,
  },
  {
    name: 'valid connection pool, http only with empty idle timeout',
    in: {
      http: {
        http1MaxPendingRequests: 2,
        http2MaxRequests: 11,
        maxRequestsPerConnection: 5,
        maxRetries: 4,
        maxConcurrentStreams: 5,
      },
    },
    valid: true,
  },
  {
    name: 'valid connection pool, http2 keepalive',
    in: { http: { http2KeepAlive: { interval: '15s', timeout: '5s' } } },
    valid: true,
  },
  { name: 'invalid connection pool, empty', in: {}, valid: false },
  {
    name: 'invalid connection pool, bad max connections',
    in: { tcp: { maxConnections: -1 } },
    valid: false,
  },
  {
    name: 'invalid connection pool, bad connect timeout',
    in: { tcp: { connectTimeout: '2.000000005s' } },
    valid: false,
  },
  {
    name: 'invalid connection pool, bad max pending requests',
    in: { http: { http1MaxPendingRequests: -1 } },
    valid: false,
  },
  {
    name: 'invalid connection pool, bad max requests',
    in: { http: { http2MaxRequests: -1 } },
    valid: false,
  },
  {
    name: 'invalid connection pool, bad max requests per connection',
    in: { http: { maxRequestsPerConnection: -1 } },
    valid: false,
  },
  {
    name: 'invalid connection pool, bad max retries',
    in: { http: { maxRetries: -1 } },
    valid: false,
  },
  {
    name: 'invalid connection pool, bad idle timeout',
    in: { http: { idleTimeout: '30.000000005s' } },
    valid: false,
  },
  {
    name: 'valid connection pool, tcp timeout disabled',
    in: { tcp: { idleTimeout: '0s' } },
    valid: true,
  },
  {
    name: 'invalid connection pool, bad max concurrent streams',
    in: { http: { maxConcurrentStreams: -1 } },
    valid: false,
  },
  {
    name: 'invalid connection pool, http2 keepalive without interval',
    in: { http: { http2KeepAlive: { timeout: '5s' } } },
    valid: false,
  },
  {
    name: 'invalid connection pool, http2 keepalive without timeout',
    in: { http: { http2KeepAlive: { interval: '15s' } } },
    valid: false,
  },
  {
    name: 'invalid connection pool, bad http2 keepalive interval',
    in: { http: { http2KeepAlive: { interval: '15.000000005s', timeout: '5s' } } },
    valid: false,
  },
];
  it.each(cases)('$name', (tc) => expectValidity(part((c) => validateConnectionPool(c, [...P, 'connectionPool'], tc.in)), tc.valid));
});

describe('TestValidateLoadBalancer', () => {
  const duration = '3600s';
  const cases: { name: string; in: any; valid: boolean }[] = [
  {
    name: 'valid load balancer with simple load balancing',
    in: { simple: 'ROUND_ROBIN' },
    valid: true,
  },
  {
    name: 'valid load balancer with consistentHash load balancing',
    in: { consistentHash: { minimumRingSize: 1024, httpCookie: { name: 'test', ttl: duration } } },
    valid: true,
  },
  {
    name: 'invalid load balancer with consistentHash load balancing, missing name',
    in: { consistentHash: { minimumRingSize: 1024, httpCookie: { ttl: duration } } },
    valid: false,
  },
  {
    name: 'invalid load balancer with consistentHash load balancing, maglev not prime',
    in: { consistentHash: { maglev: { tableSize: 1000 } } },
    valid: false,
  },
  {
    name: 'valid load balancer with consistentHash load balancing and unique cookie attributes',
    in: {
      consistentHash: {
        httpCookie: {
          name: 'test-cookie',
          ttl: duration,
          attributes: [
            { name: 'SameSite', value: 'Strict' },
            { name: 'Secure', value: 'true' },
            { name: 'HttpOnly', value: 'true' },
          ],
        },
      },
    },
    valid: true,
  },
  {
    name: 'invalid load balancer with consistentHash load balancing and duplicate cookie attribute names',
    in: {
      consistentHash: {
        httpCookie: {
          name: 'test-cookie',
          ttl: duration,
          attributes: [
            { name: 'SameSite', value: 'Strict' },
            { name: 'SameSite', value: 'Lax' },
            { name: 'Secure', value: 'true' },
          ],
        },
      },
    },
    valid: false,
  },
  {
    name: 'invalid load balancer with consistentHash load balancing and empty cookie attribute name',
    in: {
      consistentHash: {
        httpCookie: {
          name: 'test-cookie',
          ttl: duration,
          attributes: [
            { name: 'SameSite', value: 'Strict' },
            { name: '', value: 'some-value' },
            { name: 'Secure', value: 'true' },
          ],
        },
      },
    },
    valid: false,
  },
  {
    name: 'invalid: localityLbSetting and zoneAwareLbSetting both set',
    in: { localityLbSetting: {}, zoneAwareLbSetting: {} },
    valid: false,
  },
  {
    name: 'valid: zoneAwareLbSetting only',
    in: { zoneAwareLbSetting: { failover: [{ from: 'us-east', to: 'eu-west' }] } },
    valid: true,
  },
];
  it.each(cases)('$name', (tc) => expectValidity(part((c) => validateLoadBalancer(c, [...P, 'loadBalancer'], tc.in, false)), tc.valid));
});

describe('TestValidateOutlierDetection', () => {
  const cases: { name: string; in: any; valid: boolean; warn?: boolean }[] = [
  {
    name: 'valid outlier detection',
    in: { interval: '2s', baseEjectionTime: '2s', maxEjectionPercent: 50 },
    valid: true,
  },
  { name: 'invalid outlier detection, bad interval', in: { interval: '2.000000005s' }, valid: false },
  {
    name: 'invalid outlier detection, bad base ejection time',
    in: { baseEjectionTime: '2.000000005s' },
    valid: false,
  },
  {
    name: 'invalid outlier detection, bad max ejection percent',
    in: { maxEjectionPercent: 105 },
    valid: false,
  },
  {
    name: 'invalid outlier detection, panic threshold too low',
    in: { minHealthPercent: -1 },
    valid: false,
  },
  {
    name: 'invalid outlier detection, panic threshold too high',
    in: { minHealthPercent: 101 },
    valid: false,
  },
  {
    name: 'deprecated outlier detection, ConsecutiveErrors',
    in: { consecutiveErrors: 101 },
    valid: true,
    warn: true,
  },
  {
    name: 'consecutive local origin errors is set but split local origin errors is not set',
    in: { consecutiveLocalOriginFailures: 10 },
    valid: false,
  },
];
  it.each(cases)('$name', (tc) => expectValidity(part((c) => validateOutlierDetection(c, [...P, 'outlierDetection'], tc.in)), tc.valid, tc.warn ?? false));
});

describe('TestValidateLocalityLbSetting', () => {
  const cases: { name: string; in: any; outlier?: any; err?: boolean; warn?: boolean }[] = [
  {
    name: 'valid mesh config without LocalityLoadBalancerSetting',
    in: null,
    outlier: null,
    err: false,
    warn: false,
  },
  {
    name: 'invalid LocalityLoadBalancerSetting_Distribute total weight > 100',
    in: { distribute: [{ from: 'a/b/c', to: { 'a/b/c': 80, 'a/b1': 25 } }] },
    outlier: {},
    err: true,
    warn: false,
  },
  {
    name: 'invalid LocalityLoadBalancerSetting_Distribute total weight < 100',
    in: { distribute: [{ from: 'a/b/c', to: { 'a/b/c': 80, 'a/b1': 15 } }] },
    outlier: {},
    err: true,
    warn: false,
  },
  {
    name: 'invalid LocalityLoadBalancerSetting_Distribute weight = 0',
    in: { distribute: [{ from: 'a/b/c', to: { 'a/b/c': 0, 'a/b1': 100 } }] },
    outlier: {},
    err: true,
    warn: false,
  },
  {
    name: 'invalid LocalityLoadBalancerSetting specify both distribute and failover',
    in: {
      distribute: [{ from: 'a/b/c', to: { 'a/b/c': 80, 'a/b1': 20 } }],
      failover: [{ from: 'region1', to: 'region2' }],
    },
    outlier: {},
    err: true,
    warn: false,
  },
  {
    name: 'invalid failover src and dst have same region',
    in: { failover: [{ from: 'region1', to: 'region1' }] },
    outlier: {},
    err: true,
    warn: false,
  },
  {
    name: 'invalid failover src contain \'*\' wildcard',
    in: { failover: [{ from: '*', to: 'region2' }] },
    outlier: {},
    err: true,
    warn: false,
  },
  {
    name: 'invalid failover dst contain \'*\' wildcard',
    in: { failover: [{ from: 'region1', to: '*' }] },
    outlier: {},
    err: true,
    warn: false,
  },
  {
    name: 'invalid failover src contain \'/\' separator',
    in: { failover: [{ from: 'region1/zone1', to: 'region2' }] },
    outlier: {},
    err: true,
    warn: false,
  },
  {
    name: 'invalid failover dst contain \'/\' separator',
    in: { failover: [{ from: 'region1', to: 'region2/zone1' }] },
    outlier: {},
    err: true,
    warn: false,
  },
  {
    name: 'failover priority provided without outlier detection policy',
    in: {
      failoverPriority: [
        'topology.istio.io/network',
        'topology.kubernetes.io/region',
        'topology.kubernetes.io/zone',
        'topology.istio.io/subzone',
      ],
    },
    outlier: null,
    err: false,
    warn: true,
  },
  {
    name: 'failover provided without outlier detection policy',
    in: { failover: [{ from: 'us-east', to: 'eu-west' }, { from: 'us-west', to: 'eu-east' }] },
    outlier: null,
    err: false,
    warn: true,
  },
  {
    name: 'invalid LocalityLoadBalancerSetting specify both failoverPriority and region in failover',
    in: {
      failover: [{ from: 'region1', to: 'region2' }],
      failoverPriority: ['topology.kubernetes.io/region'],
    },
    outlier: {},
    err: true,
    warn: false,
  },
];
  it.each(cases)('$name', (tc) => {
    const c = part((r) => validateLocalityLbSetting(r, [...P, 'loadBalancer', 'localityLbSetting'], tc.in, tc.outlier != null));
    expectValidity(c, !(tc.err ?? false), tc.warn ?? false);
  });
});

describe('TestValidateZoneAwareLbSetting', () => {
  const cases: { name: string; in: any; outlier?: any; err?: boolean; warn?: boolean }[] = [
  { name: 'nil setting is valid', in: null, outlier: null },
  { name: 'enabled only is valid', in: { enabled: true }, outlier: {} },
  {
    name: 'valid region-level failover',
    in: { failover: [{ from: 'us-east', to: 'eu-west' }] },
    outlier: {},
  },
  {
    name: 'failover same src and dst region',
    in: { failover: [{ from: 'region1', to: 'region1' }] },
    outlier: {},
    err: true,
  },
  {
    name: 'failover src has \'/\' (zone scope) is rejected',
    in: { failover: [{ from: 'region1/zone1', to: 'region2' }] },
    outlier: {},
    err: true,
  },
  {
    name: 'failover dst has \'/\' (zone scope) is rejected',
    in: { failover: [{ from: 'region1', to: 'region2/zone1' }] },
    outlier: {},
    err: true,
  },
  {
    name: 'failover src has \'*\' wildcard is rejected',
    in: { failover: [{ from: '*', to: 'region2' }] },
    outlier: {},
    err: true,
  },
  {
    name: 'failover dst has \'*\' wildcard is rejected',
    in: { failover: [{ from: 'region1', to: '*' }] },
    outlier: {},
    err: true,
  },
  {
    name: 'failover and failoverPriority both set with topology region',
    in: {
      failover: [{ from: 'region1', to: 'region2' }],
      failoverPriority: ['topology.kubernetes.io/region'],
    },
    outlier: {},
    err: true,
  },
  {
    name: 'failoverPriority with region label is rejected',
    in: { failoverPriority: ['topology.kubernetes.io/region'] },
    outlier: {},
    err: true,
  },
  {
    name: 'failoverPriority with zone label is rejected',
    in: { failoverPriority: ['topology.kubernetes.io/zone'] },
    outlier: {},
    err: true,
  },
  {
    name: 'failoverPriority with subzone label is rejected',
    in: { failoverPriority: ['topology.istio.io/subzone'] },
    outlier: {},
    err: true,
  },
  {
    name: 'failoverPriority with non-topology labels is valid',
    in: { failoverPriority: ['version', 'app=ratings'] },
    outlier: {},
  },
  {
    name: 'failover without outlier detection warns',
    in: { failover: [{ from: 'us-east', to: 'eu-west' }] },
    outlier: null,
    warn: true,
  },
  {
    name: 'failoverPriority without outlier detection warns',
    in: { failoverPriority: ['version'] },
    outlier: null,
    warn: true,
  },
];
  it.each(cases)('$name', (tc) => {
    const c = part((r) => validateZoneAwareLbSetting(r, [...P, 'loadBalancer', 'zoneAwareLbSetting'], tc.in, tc.outlier != null));
    expectValidity(c, !(tc.err ?? false), tc.warn ?? false);
  });
});

describe('TestValidateLocalities', () => {
  const cases: { name: string; localities: string[]; valid: boolean }[] = [
  { name: 'multi wildcard locality', localities: ['*/zone/*'], valid: false },
  { name: 'wildcard not in suffix', localities: ['*/zone'], valid: false },
  { name: 'explicit wildcard region overlap', localities: ['*', 'a/b/c'], valid: false },
  { name: 'implicit wildcard region overlap', localities: ['a', 'a/b/c'], valid: false },
  { name: 'explicit wildcard zone overlap', localities: ['a/*', 'a/b/c'], valid: false },
  { name: 'implicit wildcard zone overlap', localities: ['a/b', 'a/b/c'], valid: false },
  { name: 'explicit wildcard subzone overlap', localities: ['a/b/*', 'a/b/c'], valid: false },
  { name: 'implicit wildcard subzone overlap', localities: ['a/b', 'a/b/c'], valid: false },
  {
    name: 'valid localities',
    localities: ['a1/*', 'a2/*', 'a3/b3/c3', 'a4/b4', 'a5/b5/*'],
    valid: true,
  },
];
  it.each(cases)('$name', (tc) => expect(validateLocalities(tc.localities) === undefined).toBe(tc.valid));
});

describe('TestValidateTLS (client TLS settings)', () => {
  const cases: { name: string; tls: any; valid: boolean }[] = [
  {
    name: 'SIMPLE: Credential Name set correctly',
    tls: {
      mode: 'SIMPLE',
      credentialName: 'some credential',
      clientCertificate: '',
      privateKey: '',
      caCertificates: '',
    },
    valid: true,
  },
  {
    name: 'SIMPLE CredentialName set with ClientCertificate specified',
    tls: {
      mode: 'SIMPLE',
      credentialName: 'credential',
      clientCertificate: 'cert',
      privateKey: '',
      caCertificates: '',
    },
    valid: false,
  },
  {
    name: 'SIMPLE: CredentialName set with PrivateKey specified',
    tls: {
      mode: 'SIMPLE',
      credentialName: 'credential',
      clientCertificate: '',
      privateKey: 'key',
      caCertificates: '',
    },
    valid: false,
  },
  {
    name: 'SIMPLE: CredentialName set with CACertficiates specified',
    tls: {
      mode: 'SIMPLE',
      credentialName: 'credential',
      clientCertificate: '',
      privateKey: '',
      caCertificates: 'ca',
    },
    valid: false,
  },
  {
    name: 'MUTUAL: Credential Name set correctly',
    tls: {
      mode: 'MUTUAL',
      credentialName: 'some credential',
      clientCertificate: '',
      privateKey: '',
      caCertificates: '',
    },
    valid: true,
  },
  {
    name: 'MUTUAL CredentialName set with ClientCertificate specified',
    tls: {
      mode: 'MUTUAL',
      credentialName: 'credential',
      clientCertificate: 'cert',
      privateKey: '',
      caCertificates: '',
    },
    valid: false,
  },
  {
    name: 'MUTUAL: CredentialName set with PrivateKey specified',
    tls: {
      mode: 'MUTUAL',
      credentialName: 'credential',
      clientCertificate: '',
      privateKey: 'key',
      caCertificates: '',
    },
    valid: false,
  },
  {
    name: 'MUTUAL: CredentialName set with CACertficiates specified',
    tls: {
      mode: 'MUTUAL',
      credentialName: 'credential',
      clientCertificate: '',
      privateKey: '',
      caCertificates: 'ca',
    },
    valid: false,
  },
  {
    name: 'MUTUAL: CredentialName set with CACRL specified',
    tls: {
      mode: 'MUTUAL',
      credentialName: 'credential',
      clientCertificate: '',
      privateKey: '',
      caCrl: 'ca',
    },
    valid: false,
  },
  {
    name: 'MUTUAL: CredentialName not set with ClientCertificate and Key specified',
    tls: { mode: 'MUTUAL', clientCertificate: 'cert', privateKey: 'key' },
    valid: true,
  },
  {
    name: 'MUTUAL: CredentialName not set with ClientCertificate specified and Key missing',
    tls: { mode: 'MUTUAL', clientCertificate: 'cert', privateKey: '' },
    valid: false,
  },
  {
    name: 'MUTUAL: CredentialName not set with ClientCertificate missing and Key specified',
    tls: { mode: 'MUTUAL', clientCertificate: '', privateKey: 'key' },
    valid: false,
  },
];
  it.each(cases)('$name', (tc) => expectValidity(part((c) => validateClientTLS(c, [...P, 'tls'], '', tc.tls)), tc.valid));
});

describe('DestinationRule: paths, wording and Istio semantics', () => {
  const find = (c: Collector, path: string) => [...c.errors, ...c.warnings].filter((f) => f.path === path).map((f) => f.message);

  it('reports subset problems at the subset', () => {
    const c = dr({ host: 'reviews', subsets: [{ name: 'v1', labels: { version: 'v1' } }, { name: 'v1' }, { name: 'V_2', labels: { 'bad key!': 'x' } }] });
    expect(find(c, 'spec.subsets[1].name')).toEqual(['duplicate subset names: v1']);
    expect(find(c, 'spec.subsets[2].name')).toEqual(['subset name is invalid: V_2']);
    expect(find(c, 'spec.subsets[2].labels["bad key!"]')).toEqual(['invalid tag key: "bad key!"']);
  });

  it('keeps top-level traffic-policy warnings but drops those of subsets and port-level policies (appendErrors)', () => {
    const od = { consecutiveErrors: 5 };
    expectValidity(dr({ host: 'reviews', trafficPolicy: { outlierDetection: od } }), true, true);
    expectValidity(dr({ host: 'reviews', subsets: [{ name: 'v1', trafficPolicy: { outlierDetection: od } }] }), true, false);
    expectValidity(dr({ host: 'reviews', trafficPolicy: { portLevelSettings: [{ port: { number: 80 }, outlierDetection: od }] } }), true, false);
  });

  it('checks maglev table sizes with Envoy\'s primality test', () => {
    const c = dr({ host: 'reviews', trafficPolicy: { loadBalancer: { consistentHash: { useSourceIp: true, maglev: { tableSize: 65536 } } } } });
    expect(find(c, 'spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize')).toEqual(['tableSize must be a prime number for maglev']);
    expect([2, 3, 65537, 5000011].map(isPrime)).toEqual([true, true, true, true]);
    expect([4, 9, 65536, 5000013 * 3].map(isPrime)).toEqual([false, false, false, false]);
  });

  it('restricts exportTo of a DestinationRule with a workloadSelector to its namespace', () => {
    const sel = { matchLabels: { app: 'a' } };
    expectValidity(dr({ host: 'reviews', workloadSelector: sel, exportTo: ['.'] }), true);
    expect(find(dr({ host: 'reviews', workloadSelector: sel, exportTo: ['*'] }), 'spec.exportTo')).toEqual(['destination rule with workload selector cannot have exportTo beyond current namespace']);
    expect(find(dr({ host: 'reviews', workloadSelector: sel, exportTo: ['.', 'other'] }), 'spec.exportTo')).toEqual(['destination rule with workload selector cannot have multiple entries in exportTo']);
  });

  it('rejects selectors with `*` or empty keys and warns on empty ones', () => {
    expect(find(dr({ host: 'reviews', workloadSelector: { matchLabels: { app: 'a*' } } }), 'spec.workloadSelector.matchLabels.app')).toEqual(['wildcard is not supported in selector: "app=a*"']);
    expect(find(dr({ host: 'reviews', workloadSelector: {} }), 'spec.workloadSelector')).toEqual(['workload selector specified without labels']);
  });

  it('requires configmap:// credentials in the DestinationRule namespace', () => {
    const tls = (credentialName: string) => dr({ host: 'reviews', trafficPolicy: { tls: { mode: 'SIMPLE', credentialName } } });
    expectValidity(tls('configmap://bar/ca'), true);
    expect(find(tls('configmap://other/ca'), 'spec.trafficPolicy.tls.credentialName')).toEqual(['invalid configmap:// credentialName: namespace must match the configuration namespace "bar"']);
    expect(find(tls('configmap://bar'), 'spec.trafficPolicy.tls.credentialName')).toEqual(['invalid configmap:// credentialName: invalid resource name "configmap://bar". Expected namespace and name']);
  });

  it('treats a 0s tcp idleTimeout as "disabled"', () => {
    expectValidity(dr({ host: 'reviews', trafficPolicy: { connectionPool: { tcp: { idleTimeout: '0s' } } } }), true);
    expect(find(dr({ host: 'reviews', trafficPolicy: { connectionPool: { tcp: { idleTimeout: '1.5ms' } } } }), 'spec.trafficPolicy.connectionPool.tcp.idleTimeout')).toEqual(['only durations to ms precision are supported']);
  });

  it('validates tunnel settings', () => {
    const c = dr({ host: 'reviews', trafficPolicy: { tunnel: { protocol: 'GET', targetHost: 'bad_host', targetPort: 0 } } });
    expect(find(c, 'spec.trafficPolicy.tunnel.protocol')).toEqual(['tunnel protocol must be "CONNECT" or "POST"']);
    expect(find(c, 'spec.trafficPolicy.tunnel.targetHost')[0]).toMatch(/^tunnel target host must be valid FQDN or IP address: /);
    expect(find(c, 'spec.trafficPolicy.tunnel.targetPort')).toEqual(['tunnel target port is invalid: port number 0 must be in the range 1..65535']);
    expect(find(dr({ host: 'r', trafficPolicy: { tunnel: { targetHost: 'a.b', targetPort: 1 }, proxyProtocol: {} } }), 'spec.trafficPolicy')).toEqual(['tunnel and proxyProtocol must not be set together']);
  });

  it('rejects an empty traffic policy and an empty port-level policy', () => {
    expect(find(dr({ host: 'reviews', trafficPolicy: {} }), 'spec.trafficPolicy')).toEqual(['traffic policy must have at least one field']);
    const c = dr({ host: 'reviews', trafficPolicy: { portLevelSettings: [{ port: { number: 80 } }, {}] } });
    expect(find(c, 'spec.trafficPolicy.portLevelSettings[0]')).toEqual(['port traffic policy must have at least one field']);
    expect(find(c, 'spec.trafficPolicy.portLevelSettings[1].port')).toEqual(['portTrafficPolicy must have valid port']);
  });

  it('rejects the reserved annotations', () => {
    expectMessages(dr({ host: 'reviews' }, { name: 'r', namespace: 'n', annotations: { 'istio.io/dry-run': 'true' } }), 'n/r has unsupported annotation istio.io/dry-run');
  });
});
