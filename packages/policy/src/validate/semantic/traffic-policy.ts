/**
 * DestinationRule traffic policies: ports of validation.go validateTrafficPolicy,
 * validateOutlierDetection, validateConnectionPool (also used by Sidecar), validateLoadBalancer,
 * validatePortTrafficPolicies, validateTunnelSettings, and agent/validation.go ValidateTLS,
 * ValidateLocalityLbSetting, ValidateZoneAwareLbSetting.
 *
 * Istio collects some of these with `appendErrors`, which keeps errors and drops warnings (subset
 * and port-level policies). Each function therefore takes the reporter to send warnings to; pass
 * a reporter that ignores warnings where Istio drops them.
 */
import type { Reporter } from '../types.js';
import { quoteValue } from '../go-compat.js';
import {
  entries, isObject, isSet, list, nonEmpty, num, parseGoDurationNanos, type Path, str, validateDuration,
  validateFQDN, validateIPAddress, validatePercent, validatePort,
} from './common.js';
import { DURATION_FIX } from './virtual-service-http.js';

/** A reporter that forwards errors and drops warnings (Go's appendErrors on a Validation). */
export function errorsOnly(report: Reporter): Reporter {
  return { error: (p, m, f) => report.error(p, m, f), warn: () => {} };
}

function reportDuration(report: Reporter, path: Path, value: unknown): void {
  const err = validateDuration(value);
  if (err) report.error(path, err, DURATION_FIX);
}

/** validation.validateOutlierDetection. */
export function validateOutlierDetection(report: Reporter, path: Path, outlier: unknown): void {
  if (!isObject(outlier)) return;
  if (isSet(outlier, 'baseEjectionTime')) reportDuration(report, [...path, 'baseEjectionTime'], outlier.baseEjectionTime);
  if (num(outlier.consecutiveErrors) !== 0) {
    report.warn([...path, 'consecutiveErrors'], 'outlier detection consecutive errors is deprecated, use consecutiveGatewayErrors or consecutive5xxErrors instead', 'replace `consecutiveErrors` with `consecutive5xxErrors` (or `consecutiveGatewayErrors`)');
  }
  if (outlier.splitExternalLocalOriginErrors !== true && num(outlier.consecutiveLocalOriginFailures) > 0) {
    report.error(
      [...path, 'consecutiveLocalOriginFailures'],
      'outlier detection consecutive local origin failures is specified, but split external local origin errors is set to false',
      'set `splitExternalLocalOriginErrors: true`, or remove `consecutiveLocalOriginFailures`',
    );
  }
  if (isSet(outlier, 'interval')) reportDuration(report, [...path, 'interval'], outlier.interval);
  for (const field of ['maxEjectionPercent', 'minHealthPercent'] as const) {
    const err = validatePercent(num(outlier[field]));
    if (err) report.error([...path, field], err, 'use a percentage between 0 and 100');
  }
}

const NON_NEGATIVE_FIX = 'use 0 (Istio default) or a positive number';

/** validation.validateConnectionPool. */
export function validateConnectionPool(report: Reporter, path: Path, settings: unknown): void {
  if (!isObject(settings)) return;
  if (!isSet(settings, 'http') && !isSet(settings, 'tcp')) {
    report.error(path, 'connection pool must have at least one field', 'add `tcp` or `http` settings, or remove `connectionPool`');
    return;
  }
  const http = settings.http;
  if (isObject(http)) {
    const p = [...path, 'http'];
    const nonNegative: [string, string][] = [
      ['http1MaxPendingRequests', 'http1 max pending requests must be non-negative'],
      ['http2MaxRequests', 'http2 max requests must be non-negative'],
      ['maxRequestsPerConnection', 'max requests per connection must be non-negative'],
      ['maxRetries', 'max retries must be non-negative'],
    ];
    for (const [field, message] of nonNegative) if (num(http[field]) < 0) report.error([...p, field], message, NON_NEGATIVE_FIX);
    if (isSet(http, 'idleTimeout')) reportDuration(report, [...p, 'idleTimeout'], http.idleTimeout);
    if (str(http.h2UpgradePolicy) === 'UPGRADE' && http.useClientProtocol === true) {
      report.error([...p, 'useClientProtocol'], 'use client protocol must not be true when H2UpgradePolicy is UPGRADE', 'remove `useClientProtocol`, or do not force `h2UpgradePolicy: UPGRADE`');
    }
    if (num(http.maxConcurrentStreams) < 0) report.error([...p, 'maxConcurrentStreams'], 'max concurrent streams must be non-negative', NON_NEGATIVE_FIX);
    if (isObject(http.http2KeepAlive)) {
      const ka = http.http2KeepAlive;
      const kp = [...p, 'http2KeepAlive'];
      if (!isSet(ka, 'interval')) report.error(kp, 'http2 keepalive interval is required', 'set `interval`, e.g. `30s`');
      else reportDuration(report, [...kp, 'interval'], ka.interval);
      if (!isSet(ka, 'timeout')) report.error(kp, 'http2 keepalive timeout is required', 'set `timeout`, e.g. `10s`');
      else reportDuration(report, [...kp, 'timeout'], ka.timeout);
    }
  }
  const tcp = settings.tcp;
  if (isObject(tcp)) {
    const p = [...path, 'tcp'];
    if (num(tcp.maxConnections) < 0) report.error([...p, 'maxConnections'], 'max connections must be non-negative', NON_NEGATIVE_FIX);
    if (isSet(tcp, 'connectTimeout')) reportDuration(report, [...p, 'connectTimeout'], tcp.connectTimeout);
    if (isSet(tcp, 'maxConnectionDuration')) reportDuration(report, [...p, 'maxConnectionDuration'], tcp.maxConnectionDuration);
    if (isSet(tcp, 'idleTimeout')) {
      // `0s` (anything under 1ms, as Go truncates to milliseconds) disables the timeout.
      const ns = parseGoDurationNanos(tcp.idleTimeout);
      if (ns !== undefined && ns / 1_000_000n !== 0n) reportDuration(report, [...p, 'idleTimeout'], tcp.idleTimeout);
    }
    if (isObject(tcp.tcpKeepalive)) {
      const ka = tcp.tcpKeepalive;
      if (isSet(ka, 'time')) reportDuration(report, [...p, 'tcpKeepalive', 'time'], ka.time);
      if (isSet(ka, 'interval')) reportDuration(report, [...p, 'tcpKeepalive', 'interval'], ka.interval);
    }
  }
}

/** validation.isPrime, the same trial division Envoy uses for Maglev table sizes. */
export function isPrime(x: number): boolean {
  if (x !== 0 && x < 4) return true;
  if (x % 2 === 0) return false;
  const limit = Math.floor(Math.sqrt(x));
  for (let f = 3; f <= limit; f += 2) if (x % f === 0) return false;
  return true;
}

const TOPOLOGY_LABELS = new Set(['topology.kubernetes.io/region', 'topology.kubernetes.io/zone', 'topology.istio.io/subzone']);

/** agent.getLocalityParam: `region/zone/subzone`, no empty part. */
function localityParam(locality: string): { region: string; zone: string; subZone: string; index: number } | undefined {
  // strings.SplitN(locality, "/", 3)
  const first = locality.indexOf('/');
  const items = first < 0 ? [locality] : [locality.slice(0, first), ...splitOnce(locality.slice(first + 1))];
  if (items.some((i) => i === '')) return undefined;
  return { region: items[0] ?? '', zone: items[1] ?? '', subZone: items[2] ?? '', index: items.length - 1 };
}

function splitOnce(s: string): string[] {
  const i = s.indexOf('/');
  return i < 0 ? [s] : [s.slice(0, i), s.slice(i + 1)];
}

/** agent.validateLocalities: wildcards only at the end, and no locality overlapping an earlier one. */
export function validateLocalities(localities: string[]): string | undefined {
  const map = new Map<string, Map<string, Map<string, boolean>>>();
  for (const locality of localities) {
    const stars = locality.split('*').length - 1;
    if (stars > 0 && (stars > 1 || !locality.endsWith('*'))) return `locality ${locality} wildcard '*' number can not exceed 1 and must be in the end`;
    if (map.has('*')) return `locality ${locality} overlap with previous specified ones`;
    const param = localityParam(locality);
    if (!param) return `locality ${locality} must not contain empty region/zone/subzone info`;
    const { region, zone, subZone, index } = param;
    const overlap = `locality ${locality} overlap with previous specified ones`;
    if (index === 0) {
      if (map.has(region)) return overlap;
      map.set(region, new Map([['*', new Map([['*', true]])]]));
    } else if (index === 1) {
      const r = map.get(region);
      if (r) {
        if (r.has('*') || r.has(zone)) return overlap;
        r.set(zone, new Map([['*', true]]));
      } else {
        map.set(region, new Map([[zone, new Map([['*', true]])]]));
      }
    } else {
      const r = map.get(region);
      if (r) {
        if (r.has('*')) return overlap;
        const z = r.get(zone);
        if (z) {
          if (z.get('*') || z.get(subZone)) return overlap;
          z.set(subZone, true);
        } else {
          r.set(zone, new Map([[subZone, true]]));
        }
      } else {
        map.set(region, new Map([[zone, new Map([[subZone, true]])]]));
      }
    }
  }
  return undefined;
}

const LOCALITY_FIX = 'localities are `region/zone/subzone` with an optional trailing `*`; each may appear once';

/** agent.ValidateLocalityLbSetting. */
export function validateLocalityLbSetting(report: Reporter, path: Path, lb: unknown, outlierSet: boolean): void {
  if (!isObject(lb)) return;
  const distribute = list(lb.distribute);
  const failover = list(lb.failover);
  const failoverPriority = list(lb.failoverPriority).map((x) => str(x));
  if (distribute.length > 0 && failover.length > 0) {
    report.error(path, "can not simultaneously specify 'distribute' and 'failover'", 'use either `distribute` (weights) or `failover` (ordered regions)');
    return;
  }
  if (failover.length > 0 && failoverPriority.length > 0) {
    for (const [i, label] of failoverPriority.entries()) {
      if (TOPOLOGY_LABELS.has(label)) {
        report.error([...path, 'failoverPriority', i], `can not simultaneously set 'failover' and topology label '${label}' in 'failover_priority'`, 'remove the topology label from `failoverPriority`, or remove `failover`');
        return;
      }
    }
  }
  const sources: string[] = [];
  for (const [i, locality] of distribute.entries()) {
    if (!isObject(locality)) continue;
    sources.push(str(locality.from));
    let total = 0;
    const dests: string[] = [];
    for (const [loc, weight] of entries(locality.to)) {
      dests.push(loc);
      const w = num(weight);
      if (w <= 0 || w > 100) {
        report.error([...path, 'distribute', i, 'to', loc], 'locality weight must be in range [1, 100]', 'give every destination locality a weight from 1 to 100');
        return;
      }
      total += w;
    }
    if (total !== 100) {
      report.error([...path, 'distribute', i, 'to'], `total locality weight ${total} != 100`, 'make the weights of `to` add up to 100');
      return;
    }
    const err = validateLocalities(dests);
    if (err) report.error([...path, 'distribute', i, 'to'], err, LOCALITY_FIX);
  }
  const srcErr = validateLocalities(sources);
  if (srcErr) report.error([...path, 'distribute'], srcErr, LOCALITY_FIX);
  reportFailover(report, path, failover, failoverPriority, outlierSet, {
    sameRegion: 'locality lb failover settings must specify different regions',
    notRegion: 'locality lb failover only specify region',
    wildcard: "locality lb failover region should not contain '*' wildcard",
  });
}

/** agent.ValidateZoneAwareLbSetting. */
export function validateZoneAwareLbSetting(report: Reporter, path: Path, lb: unknown, outlierSet: boolean): void {
  if (!isObject(lb)) return;
  const failover = list(lb.failover);
  const failoverPriority = list(lb.failoverPriority).map((x) => str(x));
  failoverPriority.forEach((label, i) => {
    if (TOPOLOGY_LABELS.has(label)) {
      report.error(
        [...path, 'failoverPriority', i],
        `'failover_priority' for zone aware lb must not use topology label '${label}'; region- and zone-level routing are handled automatically`,
        'remove topology labels from `failoverPriority`; use `failover` to order regions',
      );
    }
  });
  reportFailover(report, path, failover, failoverPriority, outlierSet, {
    sameRegion: 'zone aware lb failover settings must specify different regions',
    notRegion: 'zone aware lb failover only specifies region; zone and subzone failover are handled automatically',
    wildcard: "zone aware lb failover region should not contain '*' wildcard",
  });
}

/**
 * The failover checks that agent.ValidateLocalityLbSetting and ValidateZoneAwareLbSetting share
 * (each with its own wording): failover without outlier detection never triggers, and each
 * `failover` entry names two different regions, without zones or wildcards.
 */
function reportFailover(
  report: Reporter,
  path: Path,
  failover: readonly unknown[],
  failoverPriority: readonly string[],
  outlierSet: boolean,
  messages: { sameRegion: string; notRegion: string; wildcard: string },
): void {
  if ((failover.length > 0 || failoverPriority.length > 0) && !outlierSet) {
    report.warn(path, 'outlier detection policy must be provided for failover', 'add `outlierDetection` to the traffic policy; without it no endpoint is ever marked unhealthy and failover never happens');
  }
  failover.forEach((f, i) => {
    const from = isObject(f) ? str(f.from) : '';
    const to = isObject(f) ? str(f.to) : '';
    const p = [...path, 'failover', i];
    if (from === to) report.error(p, messages.sameRegion, 'fail over from one region to another');
    if (from.includes('/') || to.includes('/')) report.error(p, messages.notRegion, 'use region names only (no `/zone`)');
    if (from.includes('*') || to.includes('*')) report.error(p, messages.wildcard, 'name the regions explicitly');
  });
}

/** validation.validateLoadBalancer. */
export function validateLoadBalancer(report: Reporter, path: Path, settings: unknown, outlierSet: boolean): void {
  if (!isObject(settings)) return;
  const ch = settings.consistentHash;
  if (isObject(ch)) {
    const p = [...path, 'consistentHash'];
    const cookie = ch.httpCookie;
    if (isObject(cookie)) {
      if (str(cookie.name) === '') report.error([...p, 'httpCookie', 'name'], 'name required for HttpCookie', 'set the cookie `name`');
      const names = new Set<string>();
      list(cookie.attributes).forEach((attr, i) => {
        const name = isObject(attr) ? str(attr.name) : '';
        const ap = [...p, 'httpCookie', 'attributes', i, 'name'];
        if (name === '') {
          report.error(ap, 'cookie attribute name cannot be empty', 'give each cookie attribute a `name`');
          return;
        }
        if (names.has(name)) report.error(ap, `duplicate cookie attribute name: ${name}`, 'list each cookie attribute once');
        else names.add(name);
      });
    }
    const minimumRingSize = num(ch.minimumRingSize);
    const hasAlgorithm = isSet(ch, 'ringHash') || isSet(ch, 'maglev');
    if (minimumRingSize !== 0) {
      report.warn([...p, 'minimumRingSize'], "consistent hash MinimumRingSize is deprecated, use ConsistentHashLB's RingHash configuration instead", 'use `ringHash: {minimumRingSize: N}`');
    }
    if (minimumRingSize !== 0 && hasAlgorithm) {
      report.error([...p, 'minimumRingSize'], 'only one of MinimumRingSize or Maglev/Ringhash can be specified', 'move `minimumRingSize` into `ringHash`, or remove it');
    }
    if (isObject(ch.maglev)) {
      const size = num(ch.maglev.tableSize);
      const mp = [...p, 'maglev', 'tableSize'];
      const fix = 'use a prime below 5000011, e.g. 65537 (the default)';
      if (size === 0) report.error(mp, 'tableSize must be set for maglev', fix);
      if (size >= 5000011) report.error(mp, 'tableSize must be less than 5000011 for maglev', fix);
      if (!isPrime(size)) report.error(mp, 'tableSize must be a prime number for maglev', fix);
    }
  }
  if (isSet(settings, 'localityLbSetting') && isSet(settings, 'zoneAwareLbSetting')) {
    report.error(path, 'only one of localityLbSetting and zoneAwareLbSetting can be set', 'keep either `localityLbSetting` or `zoneAwareLbSetting`');
  }
  validateLocalityLbSetting(report, [...path, 'localityLbSetting'], settings.localityLbSetting, outlierSet);
  validateZoneAwareLbSetting(report, [...path, 'zoneAwareLbSetting'], settings.zoneAwareLbSetting, outlierSet);
  const warm = settings.warmup;
  if (isObject(warm)) {
    const wp = [...path, 'warmup'];
    if (!isSet(warm, 'duration')) report.error(wp, 'duration is required', 'set `duration`, e.g. `60s`');
    else reportDuration(report, [...wp, 'duration'], warm.duration);
    if (num(warm.minimumPercent) > 100) report.error([...wp, 'minimumPercent'], 'minimumPercent value should be less than or equal to 100', 'use a percentage between 0 and 100');
    if (isSet(warm, 'aggression') && num(warm.aggression) <= 0) report.error([...wp, 'aggression'], 'aggression should be greater than 0', 'use a value above 0 (1.0 is linear)');
  }
}

const CONFIGMAP_URI = 'configmap://';

/** agent.ValidateTLS: client TLS settings of a traffic policy. */
export function validateClientTLS(report: Reporter, path: Path, configNamespace: string, settings: unknown): void {
  if (!isObject(settings)) return;
  const mode = str(settings.mode) || 'DISABLE';
  const credentialName = str(settings.credentialName);
  const caCertificates = str(settings.caCertificates);
  if (credentialName !== '' && credentialName.startsWith(CONFIGMAP_URI)) {
    const parts = credentialName.slice(CONFIGMAP_URI.length).split('/');
    let err: string | undefined;
    if (parts.length <= 1) err = `invalid resource name ${quoteValue(credentialName)}. Expected namespace and name`;
    else if (parts[0] === '') err = `invalid resource name ${quoteValue(credentialName)}. Expected namespace`;
    else if (parts[1] === '') err = `invalid resource name ${quoteValue(credentialName)}. Expected name`;
    if (err) {
      report.error([...path, 'credentialName'], `invalid configmap:// credentialName: ${err}`, 'write it as `configmap://<namespace>/<name>`');
    } else if (parts[0] !== configNamespace || configNamespace === '') {
      report.error([...path, 'credentialName'], `invalid configmap:// credentialName: namespace must match the configuration namespace ${quoteValue(configNamespace)}`, 'reference a ConfigMap in the namespace of this DestinationRule');
    }
  }
  if (settings.insecureSkipVerify === true) {
    if (mode === 'SIMPLE' && (caCertificates !== '' || credentialName !== '' || nonEmpty(settings.subjectAltNames))) {
      report.error([...path, 'insecureSkipVerify'], 'cannot specify CaCertificates or CredentialName or SubjectAltNames when InsecureSkipVerify is set true', 'either verify the server (CA, SANs) or skip verification, not both');
    }
    if (mode === 'MUTUAL' && (caCertificates !== '' || nonEmpty(settings.subjectAltNames))) {
      report.error([...path, 'insecureSkipVerify'], 'cannot specify CaCertificates or SubjectAltNames when InsecureSkipVerify is set true', 'either verify the server (CA, SANs) or skip verification, not both');
    }
  }
  if ((mode === 'SIMPLE' || mode === 'MUTUAL') && credentialName !== '') {
    if (str(settings.clientCertificate) !== '' || caCertificates !== '' || str(settings.privateKey) !== '' || str(settings.caCrl) !== '') {
      report.error(path, 'cannot specify client certificates or CA certificate or CA CRL If credentialName is set', 'with `credentialName`, put the certificates in the referenced secret and remove the file fields');
    }
    return;
  }
  if (mode === 'MUTUAL') {
    if (str(settings.clientCertificate) === '') report.error(path, 'client certificate required for mutual tls', 'set `clientCertificate` and `privateKey`, or `credentialName`');
    if (str(settings.privateKey) === '') report.error(path, 'private key required for mutual tls', 'set `clientCertificate` and `privateKey`, or `credentialName`');
  }
}

/** validation.validateTunnelSettings. */
function validateTunnelSettings(report: Reporter, path: Path, tunnel: unknown): void {
  if (!isObject(tunnel)) return;
  const protocol = str(tunnel.protocol);
  if (protocol !== '' && protocol !== 'CONNECT' && protocol !== 'POST') report.error([...path, 'protocol'], 'tunnel protocol must be "CONNECT" or "POST"', 'use `CONNECT` (default) or `POST`');
  const host = str(tunnel.targetHost);
  const fqdnErr = validateFQDN(host);
  const ipErr = validateIPAddress(host);
  if (fqdnErr && ipErr) {
    report.error([...path, 'targetHost'], `tunnel target host must be valid FQDN or IP address: ${fqdnErr}; ${ipErr}`, 'set `targetHost` to the tunnel proxy host name or IP');
  }
  const portErr = validatePort(num(tunnel.targetPort));
  if (portErr) report.error([...path, 'targetPort'], `tunnel target port is invalid: ${portErr}`, 'use a port between 1 and 65535');
}

/** validation.validatePortTrafficPolicies; warnings inside port-level policies are dropped, as in Istio. */
function validatePortTrafficPolicies(report: Reporter, path: Path, configNamespace: string, pls: unknown): void {
  const errors = errorsOnly(report);
  list(pls).forEach((t, i) => {
    const p = [...path, i];
    if (!isObject(t)) {
      report.error(p, 'traffic policy may not be null', 'remove the empty entry');
      return;
    }
    if (!isSet(t, 'port')) report.error([...p, 'port'], 'portTrafficPolicy must have valid port', 'set `port: {number: N}`');
    if (!isSet(t, 'outlierDetection') && !isSet(t, 'connectionPool') && !isSet(t, 'loadBalancer') && !isSet(t, 'tls')) {
      report.error(p, 'port traffic policy must have at least one field', 'add `loadBalancer`, `connectionPool`, `outlierDetection` or `tls`, or remove the entry');
      return;
    }
    validateOutlierDetection(errors, [...p, 'outlierDetection'], t.outlierDetection);
    validateConnectionPool(errors, [...p, 'connectionPool'], t.connectionPool);
    validateLoadBalancer(errors, [...p, 'loadBalancer'], t.loadBalancer, isSet(t, 'outlierDetection'));
    validateClientTLS(errors, [...p, 'tls'], configNamespace, t.tls);
  });
}

const POLICY_FIELDS = ['outlierDetection', 'connectionPool', 'loadBalancer', 'tls', 'portLevelSettings', 'tunnel', 'proxyProtocol', 'retryBudget'];

/** validation.validateTrafficPolicy. */
export function validateTrafficPolicy(report: Reporter, path: Path, configNamespace: string, policy: unknown): void {
  if (!isObject(policy)) return;
  const present = (k: string) => (k === 'portLevelSettings' ? nonEmpty(policy[k]) : isSet(policy, k));
  if (!POLICY_FIELDS.some(present)) {
    report.error(path, 'traffic policy must have at least one field', 'add a setting (e.g. `loadBalancer`, `connectionPool`, `tls`) or remove `trafficPolicy`');
    return;
  }
  if (isSet(policy, 'tunnel') && isSet(policy, 'proxyProtocol')) {
    report.error(path, 'tunnel and proxyProtocol must not be set together', 'keep either `tunnel` or `proxyProtocol`');
    return;
  }
  validateOutlierDetection(report, [...path, 'outlierDetection'], policy.outlierDetection);
  validateConnectionPool(report, [...path, 'connectionPool'], policy.connectionPool);
  validateLoadBalancer(report, [...path, 'loadBalancer'], policy.loadBalancer, isSet(policy, 'outlierDetection'));
  validateClientTLS(report, [...path, 'tls'], configNamespace, policy.tls);
  validatePortTrafficPolicies(report, [...path, 'portLevelSettings'], configNamespace, policy.portLevelSettings);
  validateTunnelSettings(report, [...path, 'tunnel'], policy.tunnel);
  // validateProxyProtocol only rejects enum numbers other than V1/V2, which the schema already does.
}
