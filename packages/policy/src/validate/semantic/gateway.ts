/**
 * Gateway semantic validation: a port of validation.go `ValidateGateway`, validateServer,
 * validateServerPort, validateServerBind and validateTLSOptions (server TLS, also used by Sidecar
 * ingress listeners).
 */
import type { Reporter, SemanticValidator } from '../types.js';
import { quoteValue } from '../go-compat.js';
import {
  annotation, isDNS1123Label, isHTTPProtocol, isObject, isTLSProtocol, list, num, parseProtocol, type Path,
  str, UNIX_ADDRESS_PREFIX, validateIPAddress, validateMetadata, validateNamespaceSlashWildcardHostname,
  validatePort, validateUnixAddress,
} from './common.js';

/** pkg/config/security: the cipher suites Envoy (BoringSSL) accepts in `cipherSuites`. */
const VALID_CIPHER_SUITES = new Set([
  'ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305', 'ECDHE-ECDSA-AES128-SHA', 'ECDHE-RSA-AES128-SHA',
  'ECDHE-ECDSA-AES256-SHA', 'ECDHE-RSA-AES256-SHA', 'AES128-GCM-SHA256', 'AES256-GCM-SHA384', 'AES128-SHA', 'AES256-SHA',
  'DES-CBC3-SHA',
]);

/** security.IsValidCipherSuite: OpenSSL operator expressions (`-X`, `+X`, `!X`) are let through. */
export function isValidCipherSuite(cs: string): boolean {
  if (cs === '' || cs === 'ALL') return true;
  if (!/^[\p{L}\p{N}]/u.test(cs)) return true;
  return VALID_CIPHER_SUITES.has(cs);
}

/** Go's `%v` of a `[]string` from sets.SortedList. */
function sortedList(xs: Set<string>): string {
  return `[${[...xs].sort().join(' ')}]`;
}

/** validation.validateTLSOptions: server-side TLS settings. */
export function validateTLSOptions(report: Reporter, path: Path, tls: unknown): void {
  if (!isObject(tls)) return;
  const mode = str(tls.mode) || 'PASSTHROUGH';
  const minVersion = str(tls.minProtocolVersion);
  const cipherSuites = list(tls.cipherSuites).map((c) => str(c));
  if ((minVersion === 'TLSV1_0' || minVersion === 'TLSV1_1') && cipherSuites.length === 0) {
    report.warn([...path, 'minProtocolVersion'], 'TLS version below TLSV1_2 require setting compatible ciphers as by default they no longer include compatible ciphers.', 'set `cipherSuites` that TLS 1.0/1.1 clients support, or raise `minProtocolVersion`');
  }
  const invalid = new Set<string>();
  const valid = new Set<string>();
  const duplicate = new Set<string>();
  for (const cs of cipherSuites) {
    if (!isValidCipherSuite(cs)) invalid.add(cs);
    else if (valid.has(cs)) duplicate.add(cs);
    else valid.add(cs);
  }
  if (invalid.size > 0) report.warn([...path, 'cipherSuites'], `ignoring invalid cipher suites: ${sortedList(invalid)}`, 'use BoringSSL cipher names such as `ECDHE-RSA-AES128-GCM-SHA256`');
  if (duplicate.size > 0) report.warn([...path, 'cipherSuites'], `ignoring duplicate cipher suites: ${sortedList(duplicate)}`, 'list each cipher suite once');

  const serverCertificate = str(tls.serverCertificate);
  const privateKey = str(tls.privateKey);
  const caCertificates = str(tls.caCertificates);
  const credentialName = str(tls.credentialName);
  const credentialNames = list(tls.credentialNames);
  const tlsCertificates = list(tls.tlsCertificates);

  if (mode === 'ISTIO_MUTUAL') {
    // ISTIO_MUTUAL uses the workload's Istio certificate; any other source is an error.
    const fix = 'remove certificate fields: ISTIO_MUTUAL uses the proxy\'s Istio certificate';
    if (serverCertificate !== '') report.error([...path, 'serverCertificate'], 'ISTIO_MUTUAL TLS cannot have associated server certificate', fix);
    if (privateKey !== '') report.error([...path, 'privateKey'], 'ISTIO_MUTUAL TLS cannot have associated private key', fix);
    if (caCertificates !== '') report.error([...path, 'caCertificates'], 'ISTIO_MUTUAL TLS cannot have associated CA bundle', fix);
    if (tlsCertificates.length > 0) report.error([...path, 'tlsCertificates'], 'ISTIO_MUTUAL TLS cannot have associated tlsCertificates', fix);
    if (credentialName !== '') report.error([...path, 'credentialName'], 'ISTIO_MUTUAL TLS cannot have associated credentialName', fix);
    if (credentialNames.length > 0) report.error([...path, 'credentialNames'], 'ISTIO_MUTUAL TLS cannot have associated credentialNames', fix);
    return;
  }

  if (mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH') {
    if (str(tls.caCrl) !== '' || serverCertificate !== '' || privateKey !== '' || caCertificates !== '' || tlsCertificates.length > 0 || credentialName !== '' || credentialNames.length > 0) {
      report.warn(path, `${mode} mode does not use certificates, they will be ignored`, 'remove the certificate fields: the TLS connection is passed through unterminated');
    }
  }

  let sources = 0;
  if (serverCertificate !== '' && privateKey !== '') sources++;
  if (credentialName !== '') sources++;
  if (credentialNames.length > 0) sources++;
  if (tlsCertificates.length > 0) sources++;
  if (sources > 1) {
    report.error(path, 'only one of credential_name, credential_names, server_certificate/private_key, tls_certificates should be specified', 'keep a single certificate source');
  }

  const terminating = mode === 'SIMPLE' || mode === 'MUTUAL' || mode === 'OPTIONAL_MUTUAL';
  // With a credential name the certificates are fetched from a secret (SDS).
  if (terminating && (credentialName !== '' || credentialNames.length > 0)) return;

  const certs = tlsCertificates.length > 0 ? tlsCertificates : [{ serverCertificate, privateKey }];
  if (terminating) {
    const prefix = mode === 'SIMPLE' ? 'SIMPLE TLS' : 'MUTUAL TLS';
    if (prefix === 'MUTUAL TLS' && caCertificates === '') report.error(path, `${prefix} requires a client CA bundle`, 'set `caCertificates` to the CA that signs client certificates, or use `credentialName`');
    if (tlsCertificates.length > 2) report.warn([...path, 'tlsCertificates'], `${prefix} can support up to 2 server certificates`, 'keep at most one RSA and one ECDSA certificate');
    certs.forEach((cert, i) => {
      const p = tlsCertificates.length > 0 ? [...path, 'tlsCertificates', i] : path;
      const c = isObject(cert) ? cert : {};
      if (str(c.serverCertificate) === '') report.error(p, `${prefix} requires a server certificate`, 'set `serverCertificate` and `privateKey` (file paths), or use `credentialName`');
      if (str(c.privateKey) === '') report.error(p, `${prefix} requires a private key`, 'set `serverCertificate` and `privateKey` (file paths), or use `credentialName`');
    });
  }
  if (str(tls.caCrl) !== '') {
    if (credentialName !== '') report.error([...path, 'caCrl'], 'CRL is not supported with credentialName. CRL has to be specified in the credential', 'put the CRL into the credential secret');
    if (mode === 'SIMPLE') report.error([...path, 'caCrl'], 'CRL is not supported with SIMPLE TLS', 'remove `caCrl`, or use MUTUAL TLS');
  }
}

/** Go's `%v` of a networking.Port, approximately as prototext prints it. */
function portText(port: Record<string, any>): string {
  const parts: string[] = [];
  if (num(port.number) !== 0) parts.push(`number:${num(port.number)}`);
  if (str(port.protocol) !== '') parts.push(`protocol:${quoteValue(str(port.protocol))}`);
  if (str(port.name) !== '') parts.push(`name:${quoteValue(str(port.name))}`);
  if (num(port.targetPort) !== 0) parts.push(`target_port:${num(port.targetPort)}`);
  return parts.join(' ');
}

/** validation.validateServerPort. Returns whether it found an error (Istio then skips the TLS/protocol check). */
export function validateServerPort(report: Reporter, path: Path, port: unknown, bind: string): boolean {
  if (!isObject(port)) {
    report.error(path, 'port is required', 'add `port: {number: 80, name: http, protocol: HTTP}`');
    return true;
  }
  let failed = false;
  if (parseProtocol(str(port.protocol)) === 'Unsupported') {
    report.error([...path, 'protocol'], `invalid protocol ${quoteValue(str(port.protocol))}, supported protocols are HTTP, HTTP2, GRPC, GRPC-WEB, MONGO, REDIS, MYSQL, TCP`, 'use HTTP, HTTPS, HTTP2, GRPC, TLS, TCP, MONGO, REDIS or MYSQL');
    failed = true;
  }
  if (num(port.number) > 0 || !bind.startsWith(UNIX_ADDRESS_PREFIX)) {
    const err = validatePort(num(port.number));
    if (err) {
      report.error([...path, 'number'], err, 'use a port between 1 and 65535 (0 only with a `unix://` bind)');
      failed = true;
    }
  }
  if (num(port.targetPort) > 0) {
    report.error([...path, 'targetPort'], 'targetPort has no impact on Gateways', 'remove `targetPort`');
    failed = true;
  }
  if (str(port.name) === '') {
    report.error([...path, 'name'], `port name must be set: ${portText(port)}`, 'give the port a unique `name`, e.g. `http`');
    failed = true;
  }
  return failed;
}

/** validation.validateServerBind: an IP address, or `unix://<path>` with port 0. */
function validateServerBind(report: Reporter, path: Path, port: unknown, bind: string): void {
  if (bind.startsWith(UNIX_ADDRESS_PREFIX)) {
    const err = validateUnixAddress(bind.slice(UNIX_ADDRESS_PREFIX.length));
    if (err) report.error([...path, 'bind'], err, 'use `unix:///absolute/path` or `unix://@abstract-name`');
    if (isObject(port) && num(port.number) !== 0) {
      report.error([...path, 'port', 'number'], `port number must be 0 for unix domain socket: ${portText(port)}`, 'set `port.number: 0` for a unix socket bind');
    }
  } else if (bind.length !== 0) {
    const err = validateIPAddress(bind);
    if (err) report.error([...path, 'bind'], err, 'bind to an IP address, or `unix://<path>`');
  }
}

/** validation.validateServer. */
export function validateServer(report: Reporter, path: Path, server: unknown, gatewaySemantics: boolean): void {
  if (!isObject(server)) {
    report.error(path, 'cannot have nil server', 'remove the empty entry');
    return;
  }
  const hosts = list(server.hosts);
  if (hosts.length === 0) {
    report.error([...path, 'hosts'], 'server config must contain at least one host', 'add `hosts`, e.g. `["*/bookinfo.example.com"]`');
  } else {
    hosts.forEach((h, i) => {
      for (const err of validateNamespaceSlashWildcardHostname(str(h), true, gatewaySemantics)) {
        report.error([...path, 'hosts', i], err, 'use `[namespace/]dnsName`, with a wildcard only as the whole first label (`*.example.com`) and a DNS label, `*` or `.` as namespace');
      }
    });
  }
  const bind = str(server.bind);
  const portFailed = validateServerPort(report, [...path, 'port'], server.port, bind);
  validateServerBind(report, path, server.port, bind);
  validateTLSOptions(report, [...path, 'tls'], server.tls);
  if (portFailed) return;
  const p = parseProtocol(str(server.port.protocol));
  const tls = server.tls;
  if (isTLSProtocol(p) && !isObject(tls)) {
    report.error([...path, 'tls'], 'server must have TLS settings for HTTPS/TLS protocols', 'add `tls` (e.g. `mode: SIMPLE` with `credentialName`, or `mode: PASSTHROUGH`)');
  } else if (!isTLSProtocol(p) && isObject(tls)) {
    if (isHTTPProtocol(p)) {
      // Only `httpsRedirect` makes sense on a plain HTTP server.
      const mode = str(tls.mode) || 'PASSTHROUGH';
      const passThrough = mode === 'PASSTHROUGH' || mode === 'AUTO_PASSTHROUGH';
      if (!passThrough || str(tls.caCertificates) !== '' || str(tls.privateKey) !== '' || str(tls.serverCertificate) !== '') {
        report.error([...path, 'tls'], 'server cannot have TLS settings for plain text HTTP ports', 'use protocol HTTPS to terminate TLS, or keep only `tls.httpsRedirect` on an HTTP server');
      }
    } else {
      report.error([...path, 'tls'], 'server cannot have TLS settings for non HTTPS/TLS ports', 'use protocol HTTPS or TLS, or remove `tls`');
    }
  }
}

/** validation.go: ValidateGateway. */
export const validateGateway: SemanticValidator = (spec, ctx) => {
  if (!validateMetadata(ctx)) return;
  const { report } = ctx;
  // Gateways converted from the Gateway API keep their original names.
  const gatewaySemantics = annotation(ctx, 'internal.istio.io/gateway-semantics') === 'gateway';
  const name = ctx.resource.metadata.name;
  if (!isDNS1123Label(name) && !gatewaySemantics) {
    report.error(['metadata', 'name'], `invalid gateway name: ${quoteValue(name)}`, 'Gateway names are DNS-1123 labels (lowercase letters, digits, `-`; no dots), because VirtualServices reference them as `namespace/name`');
  }
  if (!isObject(spec)) return;
  const servers = list(spec.servers);
  if (servers.length === 0) report.error(['spec', 'servers'], 'gateway must have at least one server', 'add a server with `port` and `hosts`');
  else servers.forEach((s, i) => validateServer(report, ['spec', 'servers', i], s, gatewaySemantics));

  const portNames = new Set<string>();
  servers.forEach((s, i) => {
    if (!isObject(s)) {
      report.error(['spec', 'servers', i], 'server may not be nil', 'remove the empty entry');
      return;
    }
    if (!isObject(s.port)) return;
    const portName = str(s.port.name);
    if (portNames.has(portName)) report.error(['spec', 'servers', i, 'port', 'name'], `port names in servers must be unique: duplicate name ${portName}`, 'give each server port a unique name');
    portNames.add(portName);
    if (!isHTTPProtocol(parseProtocol(str(s.port.protocol))) && isObject(s.tls) && s.tls.httpsRedirect === true) {
      report.warn(['spec', 'servers', i, 'tls', 'httpsRedirect'], 'tls.httpsRedirect should only be used with http servers', 'move `httpsRedirect` to the plain HTTP server that should redirect to HTTPS');
    }
  });
};
