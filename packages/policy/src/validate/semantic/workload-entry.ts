/**
 * WorkloadEntry and WorkloadGroup semantic validation: ports of validation.go
 * `ValidateWorkloadEntry` / validateWorkloadEntry (also used for ServiceEntry STATIC endpoints),
 * `ValidateWorkloadGroup` and validateReadinessProbe.
 */
import type { Reporter, SemanticValidator } from '../types.js';
import { quoteValue } from '../go-compat.js';
import {
  entries, isObject, isSet, isValidIPAddress, list, nonEmpty, num, type Path, reportLabels, str,
  UNIX_ADDRESS_PREFIX, validateFQDN, validateLabelKey, validateLabelValue, validateMetadata, validatePort,
  validatePortName, validateProbeHeaderName, validateUnixAddress,
} from './common.js';

const PORT_NAME_FIX = 'port names are DNS-1123 labels and must match a port name of the service';

/**
 * validation.validateWorkloadEntry. `servicePorts` is the set of port names of the ServiceEntry
 * the endpoint belongs to (undefined for a standalone WorkloadEntry); `allowFQDNAddresses` is false
 * for STATIC ServiceEntry endpoints, which must be IPs or unix sockets.
 */
export function checkWorkloadEntry(report: Reporter, path: Path, we: Record<string, any>, servicePorts: ReadonlySet<string> | undefined, allowFQDNAddresses: boolean): void {
  const addr = str(we.address);
  if (addr === '') {
    if (str(we.network) === '') {
      report.error([...path, 'address'], 'address is required', 'set `address` to the workload IP (or DNS name), or set `network` for a workload reached through a network gateway');
      return;
    }
    report.warn([...path, 'address'], `address is unset with network ${quoteValue(str(we.network))}`, 'without an address the workload is only reachable through its network gateway; set `address` if it is directly reachable');
  }
  let unixEndpoint = false;
  if (addr.startsWith(UNIX_ADDRESS_PREFIX)) {
    unixEndpoint = true;
    const err = validateUnixAddress(addr.slice(UNIX_ADDRESS_PREFIX.length));
    if (err) report.error([...path, 'address'], err, 'use `unix:///absolute/path` or `unix://@abstract-name`');
    if (nonEmpty(we.ports)) report.error([...path, 'ports'], `unix endpoint ${addr} must not include ports`, 'remove `ports` from a unix socket endpoint');
  } else if (addr !== '' && !isValidIPAddress(addr)) {
    // Without the ServiceEntry we cannot tell DNS from STATIC resolution, so DNS names pass here.
    if (!allowFQDNAddresses) report.error([...path, 'address'], `endpoint address ${quoteValue(addr)} is not a valid IP address`, 'STATIC resolution needs IP addresses (or `unix://` sockets); use resolution DNS for host names');
    else if (validateFQDN(addr)) report.error([...path, 'address'], `endpoint address ${quoteValue(addr)} is not a valid FQDN or an IP address`, 'use an IP address or a DNS name');
  }
  for (const [name, port] of entries(we.ports)) {
    const p = [...path, 'ports', name];
    if (servicePorts && !servicePorts.has(name)) report.error(p, `endpoint port ${num(port)} is not defined by the service entry`, PORT_NAME_FIX);
    const nameErr = validatePortName(name);
    if (nameErr) report.error(p, nameErr, PORT_NAME_FIX);
    const portErr = validatePort(num(port));
    if (portErr) report.error(p, portErr, 'use a port between 1 and 65535');
  }
  reportLabels(report, [...path, 'labels'], we.labels);
  if (unixEndpoint && servicePorts && servicePorts.size !== 1) {
    report.error([...path, 'address'], 'exactly 1 service port required for unix endpoints', 'a ServiceEntry with a unix socket endpoint must declare exactly one port');
  }
}

/** validation.go: ValidateWorkloadEntry (ports are not checked against services here). */
export const validateWorkloadEntry: SemanticValidator = (spec, ctx) => {
  if (!validateMetadata(ctx)) return;
  if (!isObject(spec)) return;
  checkWorkloadEntry(ctx.report, ['spec'], spec, undefined, true);
};

/** validation.validateReadinessProbe. */
function validateReadinessProbe(report: Reporter, path: Path, probe: unknown): void {
  if (!isObject(probe)) return;
  const nonNegative = ['periodSeconds', 'initialDelaySeconds', 'timeoutSeconds', 'successThreshold', 'failureThreshold'] as const;
  for (const field of nonNegative) {
    if (num(probe[field]) < 0) report.error([...path, field], `${field} must be non-negative`, 'use 0 (the default) or a positive number');
  }
  if (isSet(probe, 'httpGet')) {
    const h = probe.httpGet;
    const p = [...path, 'httpGet'];
    const portErr = validatePort(num(h.port));
    if (portErr) report.error([...p, 'port'], portErr, 'use a port between 1 and 65535');
    const scheme = str(h.scheme);
    if (scheme !== '' && scheme !== 'HTTPS' && scheme !== 'HTTP') report.error([...p, 'scheme'], 'httpGet.scheme must be one of "HTTPS", "HTTP"', 'use `HTTP` or `HTTPS`');
    list(h.httpHeaders).forEach((header, i) => {
      if (!isObject(header)) {
        report.error([...p, 'httpHeaders', i], 'invalid nil header', 'remove the empty entry');
        return;
      }
      const err = validateProbeHeaderName(str(header.name));
      if (err) report.error([...p, 'httpHeaders', i, 'name'], err, 'probe header names use letters, digits and `-`');
    });
  } else if (isSet(probe, 'tcpSocket')) {
    const portErr = validatePort(num(probe.tcpSocket.port));
    if (portErr) report.error([...path, 'tcpSocket', 'port'], portErr, 'use a port between 1 and 65535');
  } else if (isSet(probe, 'exec')) {
    if (list(probe.exec.command).length === 0) report.error([...path, 'exec', 'command'], 'exec.command is required', 'give the command to run, e.g. `["cat", "/tmp/healthy"]`');
  } else {
    // Istio's switch has no gRPC case, so a gRPC probe is rejected like a missing one.
    const type = isSet(probe, 'grpc') ? '*v1alpha3.ReadinessProbe_Grpc' : '<nil>';
    report.error(isSet(probe, 'grpc') ? [...path, 'grpc'] : path, `unknown health check method ${type}`, 'use `httpGet`, `tcpSocket` or `exec`');
  }
}

/**
 * validation.go: ValidateWorkloadGroup. The template is not validated like a WorkloadEntry, since
 * fields such as `address` are filled in per instance.
 */
export const validateWorkloadGroup: SemanticValidator = (spec, ctx) => {
  if (!validateMetadata(ctx)) return;
  if (!isObject(spec)) return;
  const { report } = ctx;
  if (!isSet(spec, 'template')) {
    report.error(['spec', 'template'], 'template is required', 'add `template` (the WorkloadEntry fields shared by the group, e.g. `ports`, `serviceAccount`)');
    return;
  }
  if (isObject(spec.metadata)) {
    let bad = false;
    for (const [k, v] of entries(spec.metadata.labels)) {
      const p = ['spec', 'metadata', 'labels', k];
      const keyErr = validateLabelKey(k);
      if (keyErr) report.error(p, `invalid labels: ${keyErr}`, 'label keys are `[dns-prefix/]name` of alphanumerics, `-`, `_`, `.`');
      const valErr = validateLabelValue(str(v));
      if (valErr) report.error(p, `invalid labels: ${valErr}`, 'label values are alphanumerics, `-`, `_`, `.`');
      bad ||= Boolean(keyErr || valErr);
    }
    // Istio returns on invalid labels without looking at the probe.
    if (bad) return;
  }
  validateReadinessProbe(report, ['spec', 'probe'], spec.probe);
};
