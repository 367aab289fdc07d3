/**
 * ServiceEntry semantic validation: a port of validation.go `ValidateServiceEntry` (hosts,
 * addresses, ports, endpoints per resolution mode, exportTo).
 */
import type { SemanticValidator } from '../types.js';
import { quoteValue } from '../go-compat.js';
import { isWildcard } from '../../compile/hosts.js';
import {
  checkWorkloadSelector, entries, isHTTPProtocol, isObject, isSet, isTCPProtocol, isTLSProtocol,
  isValidIPAddress, list, nonEmpty, num, parseProtocol, reportExportTo, reportLabels, str,
  validateFQDN, validateIPSubnet, validateMetadata, validatePartialWildcard, validatePort, validatePortName,
  validateProtocol, validateWildcardDomain,
} from './common.js';
import { checkWorkloadEntry } from './workload-entry.js';

const AUTOALLOCATE_LABEL = 'networking.istio.io/enable-autoallocate-ip';
const USE_WAYPOINT_LABEL = 'istio.io/use-waypoint';

export const validateServiceEntry: SemanticValidator = (spec, ctx) => {
  if (!validateMetadata(ctx)) return;
  if (!isObject(spec)) return;
  const { report } = ctx;
  const labels = ctx.resource.metadata.labels ?? {};
  const se = spec;
  const resolution = str(se.resolution) || 'NONE';
  const location = str(se.location) || 'MESH_EXTERNAL';
  const hosts = list(se.hosts).map((h) => str(h));
  const addresses = list(se.addresses).map((a) => str(a));
  const endpoints = list(se.endpoints);
  const hasSelector = isSet(se, 'workloadSelector');

  // validation.ValidateAlphaWorkloadSelector: Istio returns on the first selector error.
  const selector = checkWorkloadSelector(se.workloadSelector, 'labels', ['spec', 'workloadSelector']);
  if (selector.errors.length > 0) {
    for (const e of selector.errors) report.error(e.path, e.message, e.fix);
    return;
  }
  if (selector.emptyWarning) {
    report.warn(['spec', 'workloadSelector'], 'service entry: workload selector specified without labels, will be applied to all services in namespace', 'add `labels` to select the workloads behind this ServiceEntry');
  }
  if (hasSelector && nonEmpty(se.endpoints)) {
    report.error(['spec', 'endpoints'], 'only one of WorkloadSelector or Endpoints is allowed in Service Entry', 'keep either `workloadSelector` (select WorkloadEntries/pods) or `endpoints`');
  }

  if (hosts.length === 0) report.error(['spec', 'hosts'], 'service entry must have at least one host', 'add the DNS names this ServiceEntry covers, e.g. `api.example.com`');
  hosts.forEach((h, i) => {
    if (h === '*') {
      report.error(['spec', 'hosts', i], `invalid host ${h}`, 'a ServiceEntry cannot cover every host; use a DNS name or `*.domain`');
      return;
    }
    const err = validateWildcardDomain(h);
    if (err) report.error(['spec', 'hosts', i], err, 'use a DNS name, with a wildcard only as the first label (`*.example.com`)');
    if (resolution !== 'DYNAMIC_DNS') {
      const partial = validatePartialWildcard(h);
      if (partial) report.warn(['spec', 'hosts', i], partial, 'use `*.example.com` (a whole-label wildcard) instead of a partial wildcard');
    }
  });

  let cidrFound = false;
  addresses.forEach((a, i) => {
    cidrFound ||= a.includes('/');
    const err = validateIPSubnet(a);
    if (err) report.error(['spec', 'addresses', i], err, 'use an IP address or CIDR block, e.g. `240.0.0.1` or `10.0.0.0/16`');
  });
  if (cidrFound && resolution !== 'NONE' && resolution !== 'STATIC') {
    report.error(['spec', 'addresses'], 'CIDR addresses are allowed only for NONE/STATIC resolution types', 'use single IP addresses, or resolution NONE/STATIC');
  }

  // serviceentry.ShouldV2AutoAllocateIPFromConfig with PILOT_ENABLE_IP_AUTOALLOCATE at its default (on).
  const optOut = Object.hasOwn(labels, AUTOALLOCATE_LABEL) && String(labels[AUTOALLOCATE_LABEL]).toLowerCase() === 'false';
  const autoAllocation = resolution !== 'NONE' && !optOut && addresses.length === 0;

  const portNumbers = new Set<number>();
  const servicePorts = new Set<string>();
  list(se.ports).forEach((port, i) => {
    const p = ['spec', 'ports', i];
    if (!isObject(port)) {
      report.error(p, 'service entry port may not be null', 'remove the empty entry');
      return;
    }
    const name = str(port.name);
    const number = num(port.number);
    if (servicePorts.has(name)) report.error([...p, 'name'], `service entry port name ${quoteValue(name)} already defined`, 'give each port a unique name');
    servicePorts.add(name);
    if (portNumbers.has(number)) report.error([...p, 'number'], `service entry port ${number} already defined`, 'list each port number once');
    portNumbers.add(number);
    if (num(port.targetPort) !== 0) {
      const err = validatePort(num(port.targetPort));
      if (err) report.error([...p, 'targetPort'], err, 'use a port between 1 and 65535');
    }
    const protocol = str(port.protocol);
    if (addresses.length === 0 && !autoAllocation && (protocol === '' || protocol === 'TCP')) {
      report.warn(
        [...p, 'protocol'],
        'addresses are required for ports serving TCP (or unset) protocol when IP Autoallocation is not enabled',
        'add `addresses`, set an application protocol (HTTP, TLS...), or allow IP auto-allocation',
      );
    }
    const nameErr = validatePortName(name);
    if (nameErr) report.error([...p, 'name'], nameErr, 'port names are DNS-1123 labels, e.g. `http` or `tcp-db`');
    const protoErr = validateProtocol(protocol);
    if (protoErr) report.error([...p, 'protocol'], protoErr, 'use HTTP, HTTPS, HTTP2, GRPC, TLS, TCP, MONGO, REDIS or MYSQL');
    const portErr = validatePort(number);
    if (portErr) report.error([...p, 'number'], portErr, 'use a port between 1 and 65535');
  });

  switch (resolution) {
    case 'NONE':
      if (endpoints.length !== 0) report.error(['spec', 'endpoints'], 'no endpoints should be provided for resolution type none', 'remove `endpoints`, or use resolution STATIC or DNS');
      if (hasSelector) report.warn(['spec', 'workloadSelector'], 'workloadSelector should not be set when resolution mode is NONE', 'use resolution STATIC with `workloadSelector`');
      break;
    case 'STATIC':
      endpoints.forEach((ep, i) => {
        if (!isObject(ep)) {
          report.error(['spec', 'endpoints', i], 'endpoint cannot be nil', 'remove the empty entry');
          return;
        }
        checkWorkloadEntry(report, ['spec', 'endpoints', i], ep, servicePorts, false);
      });
      break;
    case 'DNS':
    case 'DNS_ROUND_ROBIN':
      if (endpoints.length === 0) {
        for (const [i, h] of hosts.entries()) {
          const err = validateFQDN(h);
          if (err) {
            report.error(
              ['spec', 'hosts', i],
              `hosts must be FQDN or contain only prefix wildcards if no endpoints are provided for resolution mode ${resolution}, ${err}`,
              'without `endpoints` the hosts themselves are resolved: list resolvable DNS names (no wildcards), or add `endpoints`',
            );
            break;
          }
        }
      }
      if (resolution === 'DNS_ROUND_ROBIN' && endpoints.length > 1) {
        report.error(['spec', 'endpoints'], `there must only be 0 or 1 endpoint for resolution mode ${resolution}`, 'keep one endpoint, or use resolution DNS');
      }
      endpoints.forEach((ep, i) => {
        const p = ['spec', 'endpoints', i];
        if (!isObject(ep)) {
          report.error(p, 'endpoint cannot be nil', 'remove the empty entry');
          return;
        }
        const address = str(ep.address);
        if (!isValidIPAddress(address) && validateFQDN(address)) {
          report.error([...p, 'address'], `endpoint address ${quoteValue(address)} is not a valid FQDN or an IP address`, 'use a DNS name or an IP address');
        }
        reportLabels(report, [...p, 'labels'], ep.labels);
        for (const [name, port] of entries(ep.ports)) {
          if (!servicePorts.has(name)) report.error([...p, 'ports', name], `endpoint port ${num(port)} is not defined by the service entry`, 'endpoint port keys are port names from `spec.ports`');
          const nameErr = validatePortName(name);
          if (nameErr) report.error([...p, 'ports', name], nameErr, 'port names are DNS-1123 labels');
          const portErr = validatePort(num(port));
          if (portErr) report.error([...p, 'ports', name], portErr, 'use a port between 1 and 65535');
        }
      });
      if (addresses.length > 0) {
        for (const [i, port] of list(se.ports).entries()) {
          if (!isObject(port)) {
            report.error(['spec', 'ports', i], 'ports cannot be nil', 'remove the empty entry');
            continue;
          }
          if (isTCPProtocol(parseProtocol(str(port.protocol)))) {
            if (hosts.length > 1) {
              report.warn(['spec', 'hosts'], 'service entry can not have more than one host specified simultaneously with address and tcp port', 'TCP traffic to an address cannot tell hosts apart: use one host per ServiceEntry');
            }
            break;
          }
        }
      }
      break;
    case 'DYNAMIC_DNS': {
      if (hosts.length === 0) report.error(['spec', 'hosts'], `at least one wildcard host must be provided for resolution type ${resolution}`, 'add a wildcard host such as `*.example.com`');
      hosts.forEach((h, i) => {
        if (!isWildcard(h)) report.error(['spec', 'hosts', i], `host must be wildcarded for resolution mode ${resolution}`, 'use a wildcard host such as `*.example.com`, or resolution DNS');
      });
      if (addresses.length !== 0) {
        report.error(['spec', 'addresses'], `addresses cannot be set for resolution type ${resolution}. HTTP route domains will only be generatedfrom the hosts field values`, 'remove `addresses`');
      }
      if (endpoints.length !== 0) {
        report.error(['spec', 'endpoints'], `endpoints cannot be set for resolution type ${resolution}. Destination IP address determined from hostsfield values`, 'remove `endpoints`');
      }
      list(se.ports).forEach((port, i) => {
        if (!isObject(port)) {
          report.error(['spec', 'ports', i], 'port cannot be nil', 'remove the empty entry');
          return;
        }
        const proto = parseProtocol(str(port.protocol));
        if (proto !== 'HTTP' && proto !== 'TLS' && proto !== 'GRPC' && proto !== 'HTTP2') {
          report.error(['spec', 'ports', i, 'protocol'], `only HTTP, TLS, GRPC, and HTTP2 protocols are supported for resolution type ${resolution}`, 'use protocol HTTP, TLS, GRPC or HTTP2');
        }
      });
      if (location !== 'MESH_EXTERNAL' && location !== 'MESH_INTERNAL') {
        report.error(['spec', 'location'], `location must be MESH_EXTERNAL or MESH_INTERNAL for resolution type ${resolution}`, 'use MESH_EXTERNAL or MESH_INTERNAL');
      }
      const waypoint = labels[USE_WAYPOINT_LABEL];
      if (location === 'MESH_INTERNAL' && waypoint !== undefined && waypoint !== '' && waypoint.toLowerCase() !== 'none') {
        report.error(['spec', 'location'], `location MESH_INTERNAL with resolution type ${resolution} is not supported when using waypoints`, 'use MESH_EXTERNAL, or remove the istio.io/use-waypoint label');
      }
      break;
    }
    default:
      report.error(['spec', 'resolution'], `unsupported resolution type ${resolution}`, 'use NONE, STATIC, DNS, DNS_ROUND_ROBIN or DYNAMIC_DNS');
  }

  // Plain TCP cannot tell hosts apart, so several hosts need HTTP or TLS ports (unless NONE,
  // where hosts are ignored).
  if (resolution !== 'NONE' && hosts.length > 1) {
    for (const [i, port] of list(se.ports).entries()) {
      if (!isObject(port)) {
        report.error(['spec', 'ports', i], 'ports cannot be nil', 'remove the empty entry');
        continue;
      }
      const p = parseProtocol(str(port.protocol));
      if (!isHTTPProtocol(p) && !isTLSProtocol(p)) {
        report.error(['spec', 'ports', i, 'protocol'], 'multiple hosts provided with non-HTTP, non-TLS ports', 'give the port an HTTP or TLS protocol, or use one host per ServiceEntry');
        break;
      }
    }
  }

  reportExportTo(report, ['spec', 'exportTo'], ctx.resource.metadata.namespace, se.exportTo, true, false);
};
