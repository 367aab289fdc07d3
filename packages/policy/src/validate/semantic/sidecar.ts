/**
 * Sidecar semantic validation: a port of validation.go `ValidateSidecar`,
 * validateSidecarIngressPortAndBind, validateSidecarEgressPortBindAndCaptureMode and
 * validateSidecarOutboundTrafficPolicy.
 */
import type { Reporter, SemanticValidator } from '../types.js';
import { goAtoi, quoteValue } from '../go-compat.js';
import {
  checkWorkloadSelector, isHTTPProtocol, isObject, isSet, isTLSProtocol, list, nonEmpty, num, parseProtocol,
  type Path, str, UNIX_ADDRESS_PREFIX, validateFQDN, validateIPAddress, validateMetadata,
  validateNamespaceSlashWildcardHostname, validatePort, validatePortName, validateProtocol,
  validateUnixAddress,
} from './common.js';
import { validateTLSOptions } from './gateway.js';
import { validateConnectionPool } from './traffic-policy.js';
import { validateDestination } from './virtual-service-http.js';

/** Go's net.SplitHostPort, returning Go's error text. */
export function splitHostPort(hostport: string): { host: string; port: string } | { error: string } {
  const fail = (why: string) => ({ error: `address ${hostport}: ${why}` });
  const i = hostport.lastIndexOf(':');
  if (i < 0) return fail('missing port in address');
  let host: string;
  let j = 0;
  let k = 0;
  if (hostport[0] === '[') {
    const end = hostport.indexOf(']');
    if (end < 0) return fail("missing ']' in address");
    if (end + 1 === hostport.length) return fail('missing port in address');
    if (end + 1 !== i) return fail(hostport[end + 1] === ':' ? 'too many colons in address' : 'missing port in address');
    host = hostport.slice(1, end);
    j = 1;
    k = end + 1;
  } else {
    host = hostport.slice(0, i);
    if (host.includes(':')) return fail('too many colons in address');
  }
  if (hostport.slice(j).includes('[')) return fail("unexpected '[' in address");
  if (hostport.slice(k).includes(']')) return fail("unexpected ']' in address");
  return { host, port: hostport.slice(i + 1) };
}

const PORT_FIX = 'use a port between 1 and 65535';
const PROTOCOL_FIX = 'use HTTP, HTTPS, HTTP2, GRPC, TLS, TCP, MONGO, REDIS, MYSQL or HTTP_PROXY (or leave it empty to sniff)';

/** The port name and protocol checks that both validateSidecar*PortAndBind functions start with. */
function reportPortNameAndProtocol(report: Reporter, path: Path, port: Record<string, any>): void {
  const name = str(port.name);
  if (name.length > 0) {
    const err = validatePortName(name);
    if (err) report.error([...path, 'port', 'name'], err, 'port names are DNS-1123 labels, e.g. `http`');
  }
  const protoErr = validateProtocol(str(port.protocol));
  if (protoErr) report.error([...path, 'port', 'protocol'], protoErr, PROTOCOL_FIX);
}

/** validation.validateSidecarIngressPortAndBind. */
function validateIngressPortAndBind(report: Reporter, path: Path, port: Record<string, any>, bind: string): void {
  reportPortNameAndProtocol(report, path, port);
  const portErr = validatePort(num(port.number));
  if (portErr) report.error([...path, 'port', 'number'], portErr, PORT_FIX);
  if (bind.length !== 0) {
    const err = validateIPAddress(bind);
    if (err) report.error([...path, 'bind'], err, 'bind to an IP address such as `0.0.0.0`');
  }
}

/** validation.validateSidecarEgressPortBindAndCaptureMode. */
function validateEgressPortBindAndCaptureMode(report: Reporter, path: Path, port: Record<string, any>, bind: string, captureMode: string): void {
  reportPortNameAndProtocol(report, path, port);
  if (num(port.number) === 0) {
    // Port 0 means a unix domain socket listener.
    if (!bind.startsWith(UNIX_ADDRESS_PREFIX)) {
      report.error([...path, 'bind'], 'sidecar: ports with 0 value must have a unix domain socket bind address', 'set `bind: unix:///path/to/socket`, or give the port a number');
    } else {
      const err = validateUnixAddress(bind.slice(UNIX_ADDRESS_PREFIX.length));
      if (err) report.error([...path, 'bind'], err, 'use `unix:///absolute/path` or `unix://@abstract-name`');
    }
    if (captureMode !== 'DEFAULT' && captureMode !== 'NONE') {
      report.error([...path, 'captureMode'], 'sidecar: captureMode must be DEFAULT/NONE for unix domain socket listeners', 'use captureMode DEFAULT or NONE');
    }
  } else {
    const portErr = validatePort(num(port.number));
    if (portErr) report.error([...path, 'port', 'number'], portErr, PORT_FIX);
    if (bind.length !== 0) {
      const err = validateIPAddress(bind);
      if (err) report.error([...path, 'bind'], err, 'bind to an IP address such as `127.0.0.1`, or `unix://<path>` with port 0');
    }
  }
}

/** validation.validateSidecarOutboundTrafficPolicy. */
function validateOutboundTrafficPolicy(report: Reporter, path: Path, tp: unknown): void {
  if (!isObject(tp)) return;
  // The proto zero value is REGISTRY_ONLY. Protobuf JSON also accepts enum numbers; 3 is
  // MeshConfig's ALLOW_ANY_DYNAMIC_DNS, which Istio compares against explicitly.
  const numeric: Record<number, string> = { 0: 'REGISTRY_ONLY', 1: 'ALLOW_ANY', 3: 'ALLOW_ANY_DYNAMIC_DNS' };
  const mode = typeof tp.mode === 'number' ? (numeric[tp.mode] ?? String(tp.mode)) : str(tp.mode) || 'REGISTRY_ONLY';
  if (mode === 'ALLOW_ANY_DYNAMIC_DNS') {
    report.error([...path, 'mode'], 'sidecar: ALLOW_ANY_DYNAMIC_DNS mode is only supported in MeshConfig, not in Sidecar resource', 'set ALLOW_ANY_DYNAMIC_DNS in MeshConfig `outboundTrafficPolicy`, or use ALLOW_ANY here');
    return;
  }
  if (!isSet(tp, 'egressProxy')) return;
  const proxy = tp.egressProxy;
  if (mode !== 'ALLOW_ANY') {
    report.error([...path, 'egressProxy'], 'sidecar: egress_proxy must be set only with ALLOW_ANY outbound_traffic_policy mode', 'set `mode: ALLOW_ANY`, or remove `egressProxy`');
    return;
  }
  const hostErr = validateFQDN(str(proxy.host));
  if (hostErr) report.error([...path, 'egressProxy', 'host'], hostErr, 'use the fully qualified name of the egress proxy service');
  if (!isSet(proxy, 'port')) {
    report.error([...path, 'egressProxy', 'port'], 'sidecar: egress_proxy port must be non-nil', 'set `port: {number: N}`');
    return;
  }
  validateDestination(report, [...path, 'egressProxy'], proxy);
}

function reportDefaultEndpoint(report: Reporter, path: Path, defaultEndpoint: string): void {
  if (defaultEndpoint.startsWith(UNIX_ADDRESS_PREFIX)) {
    const err = validateUnixAddress(defaultEndpoint.slice(UNIX_ADDRESS_PREFIX.length));
    if (err) report.error(path, err, 'use `unix:///absolute/path` or `unix://@abstract-name`');
    return;
  }
  // Form 127.0.0.1:port, [::1]:port or :port.
  const fix = 'use `127.0.0.1:<port>`, `0.0.0.0:<port>`, `[::1]:<port>`, `[::]:<port>`, `:<port>` or `unix://<path>`';
  const split = splitHostPort(defaultEndpoint);
  let host = '';
  let port = '';
  if ('error' in split) report.error(path, split.error, fix);
  else ({ host, port } = split);
  if (host !== '' && host !== '127.0.0.1' && host !== '0.0.0.0' && host !== '::1' && host !== '::') {
    report.error(path, 'sidecar: defaultEndpoint must be of form 127.0.0.1:<port>,0.0.0.0:<port>,[::1]:port,[::]:port,unix://filepath or unset', fix);
  }
  const n = goAtoi(port);
  if (n === undefined) {
    report.error(path, `sidecar: defaultEndpoint port (${port}) is not a number: strconv.Atoi: parsing ${quoteValue(port)}: ${/^[+-]?[0-9]+$/.test(port) ? 'value out of range' : 'invalid syntax'}`, fix);
  } else {
    const err = validatePort(n);
    if (err) report.error(path, err, PORT_FIX);
  }
}

function validateIngress(report: Reporter, ingress: unknown[]): void {
  const ports = new Set<number>();
  ingress.forEach((i, n) => {
    const path = ['spec', 'ingress', n];
    if (!isObject(i)) {
      report.error(path, 'sidecar: ingress may not be null', 'remove the empty entry');
      return;
    }
    if (!isObject(i.port)) {
      report.error([...path, 'port'], 'sidecar: port is required for ingress listeners', 'add `port: {number, protocol, name}`');
      return;
    }
    const port = i.port;
    if (num(port.targetPort) > 0) report.error([...path, 'port', 'targetPort'], 'targetPort has no impact on Sidecars', 'remove `targetPort`; use `defaultEndpoint` to forward to another port');
    validateIngressPortAndBind(report, path, port, str(i.bind));
    if (ports.has(num(port.number))) report.error([...path, 'port', 'number'], 'sidecar: ports on IP bound listeners must be unique', 'use each port number once');
    ports.add(num(port.number));

    const defaultEndpoint = str(i.defaultEndpoint);
    if (defaultEndpoint.length !== 0) reportDefaultEndpoint(report, [...path, 'defaultEndpoint'], defaultEndpoint);

    const tls = i.tls;
    if (isObject(tls)) {
      const tp = [...path, 'tls'];
      if (nonEmpty(tls.subjectAltNames)) report.error([...tp, 'subjectAltNames'], 'sidecar: subjectAltNames is not supported in ingress tls', 'remove `subjectAltNames`');
      if (tls.httpsRedirect === true) report.error([...tp, 'httpsRedirect'], 'sidecar: httpsRedirect is not supported', 'remove `httpsRedirect`');
      if (str(tls.credentialName) !== '') report.error([...tp, 'credentialName'], 'sidecar: credentialName is not currently supported', 'use `serverCertificate`/`privateKey` file paths');
      if (nonEmpty(tls.credentialNames)) report.error([...tp, 'credentialNames'], 'sidecar: credentialNames is not currently supported', 'use `serverCertificate`/`privateKey` file paths');
      if (nonEmpty(tls.tlsCertificates)) report.error([...tp, 'tlsCertificates'], 'sidecar: tls_certificates is not currently supported', 'use `serverCertificate`/`privateKey` file paths');
      const mode = str(tls.mode) || 'PASSTHROUGH';
      if (mode === 'ISTIO_MUTUAL' || mode === 'AUTO_PASSTHROUGH') {
        report.error([...tp, 'mode'], `configuration is invalid: cannot set mode to ${mode} in sidecar ingress tls`, 'use SIMPLE, MUTUAL or OPTIONAL_MUTUAL');
      }
      if (!isTLSProtocol(parseProtocol(str(port.protocol)))) {
        report.error(tp, 'server cannot have TLS settings for non HTTPS/TLS ports', 'use port protocol HTTPS or TLS, or remove `tls`');
      }
      validateTLSOptions(report, tp, tls);
    }

    validateConnectionPool(report, [...path, 'connectionPool'], i.connectionPool);
    if (isObject(i.connectionPool) && isSet(i.connectionPool, 'http') && !isHTTPProtocol(parseProtocol(str(port.protocol)))) {
      report.warn(
        [...path, 'connectionPool', 'http'],
        `sidecar: HTTP connection pool settings are configured for port ${num(port.number)} (${quoteValue(str(port.name))}) but its protocol is not HTTP (${str(port.protocol)}); only TCP settings will apply`,
        'remove `connectionPool.http`, or declare the port with an HTTP protocol',
      );
    }
  });
}

function validateEgress(report: Reporter, egress: unknown[], namespace: string): void {
  const ports = new Set<number>();
  const sockets = new Set<string>();
  let catchAllFound = false;
  egress.forEach((e, index) => {
    const path = ['spec', 'egress', index];
    if (!isObject(e)) {
      report.error(path, 'egress listener may not be null', 'remove the empty entry');
      return;
    }
    // Only one catch-all listener (no port), and it must be the last one.
    if (!isObject(e.port)) {
      if (!catchAllFound) {
        if (index === egress.length - 1) catchAllFound = true;
        else report.error(path, 'sidecar: the egress listener with empty port should be the last listener in the list', 'move the listener without `port` to the end of `egress`');
      } else {
        report.error(path, 'sidecar: egress can have only one listener with empty port', 'merge the hosts of the listeners without `port` into one');
        return;
      }
    } else {
      const port = e.port;
      if (num(port.targetPort) > 0) report.error([...path, 'port', 'targetPort'], 'targetPort has no impact on Sidecars', 'remove `targetPort`');
      const bind = str(e.bind);
      validateEgressPortBindAndCaptureMode(report, path, port, bind, str(e.captureMode) || 'DEFAULT');
      if (num(port.number) === 0) {
        if (sockets.has(bind)) report.error([...path, 'bind'], 'sidecar: unix domain socket values for listeners must be unique', 'use each socket path once');
        sockets.add(bind);
      } else {
        if (ports.has(num(port.number))) report.error([...path, 'port', 'number'], 'sidecar: ports on IP bound listeners must be unique', 'use each port number once');
        ports.add(num(port.number));
      }
    }

    const hosts = list(e.hosts).map((h) => str(h));
    if (hosts.length === 0) {
      report.error([...path, 'hosts'], 'sidecar: egress listener must contain at least one host', 'add hosts such as `./*` or `istio-system/*`');
      return;
    }
    const seen = new Map<string, Set<string>>();
    hosts.forEach((h, i) => {
      const hp = [...path, 'hosts', i];
      const slash = h.indexOf('/');
      if (slash >= 0 && !h.startsWith('~')) {
        let ns = h.slice(0, slash);
        const svc = h.slice(slash + 1);
        if (ns === '.') ns = namespace;
        const svcs = seen.get(ns) ?? new Set<string>();
        seen.set(ns, svcs);
        const dupFix = 'list each namespace/host once; `ns/*` already covers every host of `ns`';
        if (svc !== '*') {
          if (svcs.has(svc) || svcs.has('*')) report.warn(hp, `duplicated egress host: ${h}`, dupFix);
        } else if (svcs.size !== 0) {
          report.warn(hp, `duplicated egress host: ${h}`, dupFix);
        }
        svcs.add(svc);
      }
      for (const err of validateNamespaceSlashWildcardHostname(h, false, false)) {
        report.error(hp, err, 'use `namespace/dnsName` where namespace is a name, `.`, `*` or `~name`, and dnsName a FQDN or `*`/`*.suffix`');
      }
    });
    if (seen.get('*')?.has('*') && seen.size !== 1) {
      report.warn([...path, 'hosts'], '`*/*` host select all resources, no other hosts can be added', 'keep `*/*` alone, or list specific namespaces');
    }
  });
}

/** validation.go: ValidateSidecar. */
export const validateSidecar: SemanticValidator = (spec, ctx) => {
  if (!validateMetadata(ctx)) return;
  if (!isObject(spec)) return;
  const { report } = ctx;
  // Istio returns on the first selector error, and on an empty Sidecar, without other findings.
  const selector = checkWorkloadSelector(spec.workloadSelector, 'labels', ['spec', 'workloadSelector']);
  if (selector.errors.length > 0) {
    for (const e of selector.errors) report.error(e.path, e.message, e.fix);
    return;
  }
  const ingress = list(spec.ingress);
  const egress = list(spec.egress);
  if (egress.length === 0 && ingress.length === 0 && !isSet(spec, 'outboundTrafficPolicy') && !isSet(spec, 'inboundConnectionPool')) {
    report.error(['spec'], 'sidecar: empty configuration provided', 'add `egress`, `ingress`, `outboundTrafficPolicy` or `inboundConnectionPool`');
    return;
  }
  if (selector.emptyWarning) {
    report.warn(['spec', 'workloadSelector'], 'sidecar: workload selector specified without labels, will be applied to all services in namespace', 'add `labels`, or remove `workloadSelector` for a namespace-wide Sidecar');
  }
  validateIngress(report, ingress);
  validateConnectionPool(report, ['spec', 'inboundConnectionPool'], spec.inboundConnectionPool);
  validateEgress(report, egress, ctx.resource.metadata.namespace);
  validateOutboundTrafficPolicy(report, ['spec', 'outboundTrafficPolicy'], spec.outboundTrafficPolicy);
};
