/**
 * VirtualService semantic validation: a port of validation.go `ValidateVirtualService` with its
 * TLS/TCP route checks and the unreachable-rule analysis (warnings). HTTP rules live in
 * virtual-service-http.ts.
 */
import type { Reporter, SemanticValidator } from '../types.js';
import { clipShown, goStringList, quoteValue, showValue } from '../go-compat.js';
import {
  annotation, entries, hostMatches, hostSubsetOf, isJwtClaimRoute, isObject, isValidIPAddress, list,
  nonEmpty, num, type Path, reportExportTo, reportLabels, str, validateIPSubnet, validateMetadata,
  validatePort, validateWildcardDomain, validateWildcardDomainForVirtualServiceBoundToGateway,
} from './common.js';
import { reportGatewayNames, validateHTTPRoute, validateRouteDestinations } from './virtual-service-http.js';
import { analyzeUnreachableRules } from './virtual-service-unreachable.js';

const MESH_GATEWAY = 'mesh';

/** validation.isGateway: true unless `mesh` is listed — also true when `gateways` is empty. */
function isGateway(vs: Record<string, any>): boolean {
  return !list(vs.gateways).includes(MESH_GATEWAY);
}

/** validation.isSniHost: some TLS match lists SNI hosts. */
function isSniHost(vs: Record<string, any>): boolean {
  return list(vs.tls).some((t) => isObject(t) && list(t.match).some((m) => isObject(m) && nonEmpty(m.sniHosts)));
}

/** validation.validateSniHost: a valid (wildcard) name covered by one of the VirtualService hosts. */
function validateSniHost(report: Reporter, path: Path, sniHost: string, vs: Record<string, any>): void {
  const err = isGateway(vs) ? validateWildcardDomainForVirtualServiceBoundToGateway(true, sniHost) : validateWildcardDomain(sniHost);
  if (err) {
    if (isValidIPAddress(sniHost)) {
      report.warn(path, `using an IP address (${quoteValue(sniHost)}) goes against SNI spec and most clients do not support this`, 'match on the server name clients send in SNI, or use a `tcp` route with `destinationSubnets`');
      return;
    }
    report.error(path, err, 'use a DNS name (wildcards only as the first label, e.g. `*.example.com`)');
    return;
  }
  const hosts = list(vs.hosts).map((h) => str(h));
  if (hosts.some((h) => hostSubsetOf(sniHost, h))) return;
  report.error(
    path,
    `SNI host ${quoteValue(sniHost)} is not a compatible subset of any of the virtual service hosts: [${clipShown(hosts.map((h) => showValue(h)).join(', '))}]`,
    'list only SNI names covered by `spec.hosts` (e.g. `a.example.com` under `*.example.com`)',
  );
}

/** validation.validateTLSMatch. */
function validateTLSMatch(report: Reporter, path: Path, match: unknown, vs: Record<string, any>): void {
  if (!isObject(match)) {
    report.error(path, 'TLS match may not be null', 'remove the empty entry or give it `sniHosts`');
    return;
  }
  const sniHosts = list(match.sniHosts);
  if (sniHosts.length === 0) report.error([...path, 'sniHosts'], 'TLS match must have at least one SNI host', 'add `sniHosts: [<host>]`');
  else sniHosts.forEach((h, i) => validateSniHost(report, [...path, 'sniHosts', i], str(h), vs));
  reportSubnetsPortLabelsGateways(report, path, match);
}

/** The L4 match fields shared by TLS and TCP matches. */
function reportSubnetsPortLabelsGateways(report: Reporter, path: Path, match: Record<string, any>): void {
  list(match.destinationSubnets).forEach((s, i) => {
    const err = validateIPSubnet(str(s));
    if (err) report.error([...path, 'destinationSubnets', i], err, 'use an IP address or CIDR block, e.g. `10.0.0.0/8`');
  });
  if (num(match.port) !== 0) {
    const err = validatePort(num(match.port));
    if (err) report.error([...path, 'port'], err, 'use a port between 1 and 65535');
  }
  reportLabels(report, [...path, 'sourceLabels'], match.sourceLabels);
  reportGatewayNames(report, [...path, 'gateways'], match.gateways, false);
}

/** validation.validateTLSRoute. */
function validateTLSRoute(report: Reporter, path: Path, tls: unknown, vs: Record<string, any>, gatewaySemantics: boolean): void {
  if (!isObject(tls)) return;
  if (list(tls.match).length === 0) report.error([...path, 'match'], 'TLS route must have at least one match condition', 'add `match: [{sniHosts: [<host>]}]`');
  list(tls.match).forEach((m, j) => validateTLSMatch(report, [...path, 'match', j], m, vs));
  if (list(tls.route).length === 0) report.error([...path, 'route'], 'TLS route is required', 'add `route: [{destination: {host: ...}}]`');
  validateRouteDestinations(report, [...path, 'route'], tls.route, gatewaySemantics, false);
}

/** validation.validateTCPRoute (+ validateTCPMatch). */
function validateTCPRoute(report: Reporter, path: Path, tcp: unknown, gatewaySemantics: boolean): void {
  if (!isObject(tcp)) return;
  list(tcp.match).forEach((m, j) => {
    if (!isObject(m)) {
      report.error([...path, 'match', j], 'tcp match may not be nil', 'remove the empty entry');
      return;
    }
    reportSubnetsPortLabelsGateways(report, [...path, 'match', j], m);
  });
  if (list(tcp.route).length === 0) report.error([...path, 'route'], 'TCP route is required', 'add `route: [{destination: {host: ...}}]`');
  validateRouteDestinations(report, [...path, 'route'], tcp.route, gatewaySemantics, false);
}

/**
 * validation.go: ValidateVirtualService. A VirtualService without `hosts` is a delegate: it may not
 * have `gateways`, `tls` or `tcp`. Hosts of a VirtualService bound to the mesh may not be `*`.
 * JWT-claim header matches are only for gateways.
 */
export const validateVirtualService: SemanticValidator = (spec, ctx) => {
  if (!validateMetadata(ctx)) return;
  if (!isObject(spec)) return;
  const { report } = ctx;
  const vs = spec;
  const hosts = list(vs.hosts).map((h) => str(h));
  const gateways = list(vs.gateways).map((g) => str(g));

  if (hosts.length === 0) {
    const fix = 'a VirtualService without `hosts` is a delegate: reference it from a root VirtualService `http[].delegate`, or add `hosts`';
    if (gateways.length !== 0) report.error(['spec', 'gateways'], 'delegate virtual service must have no gateways specified', fix);
    if (nonEmpty(vs.tls)) report.error(['spec', 'tls'], 'delegate virtual service must have no tls route specified', fix);
    if (nonEmpty(vs.tcp)) report.error(['spec', 'tcp'], 'delegate virtual service must have no tcp route specified', fix);
  }
  // Config converted from the Gateway API relaxes some name checks.
  const gatewaySemantics = annotation(ctx, 'internal.istio.io/route-semantics') === 'gateway';

  let appliesToMesh = false;
  let appliesToGateway = false;
  if (gateways.length === 0) {
    appliesToMesh = true;
  } else {
    reportGatewayNames(report, ['spec', 'gateways'], vs.gateways, gatewaySemantics);
    appliesToGateway = isGateway(vs);
    appliesToMesh = !appliesToGateway;
  }

  if (!appliesToGateway) {
    list(vs.http).forEach((http, i) => {
      if (!isObject(http)) return;
      list(http.match).forEach((m, j) => {
        if (!isObject(m)) return;
        for (const field of ['headers', 'withoutHeaders'] as const) {
          for (const [key] of entries(m[field])) {
            if (!isJwtClaimRoute(key)) continue;
            report.error(
              ['spec', 'http', i, 'match', j, field, key],
              `JWT claim based routing (key: ${showValue(key)}) is only supported for gateway, found no gateways: ${goStringList(gateways)}`,
              'JWT claims are only available on ingress gateways: bind this VirtualService to a Gateway (without `mesh`), or match a header instead',
            );
          }
        }
      });
    });
  }

  let allHostsValid = true;
  hosts.forEach((h, i) => {
    const err = appliesToGateway ? validateWildcardDomainForVirtualServiceBoundToGateway(isSniHost(vs), h) : validateWildcardDomain(h);
    if (err) {
      if (!isValidIPAddress(h)) {
        report.error(['spec', 'hosts', i], err, 'use a service name, a DNS name (wildcard only as the first label), or an IP address');
        allHostsValid = false;
      }
    } else if (appliesToMesh && h === '*') {
      report.error(['spec', 'hosts', i], 'wildcard host * is not allowed for virtual services bound to the mesh gateway', 'list the hosts this VirtualService routes (e.g. `reviews` or `*.example.com`), or bind it to a Gateway');
      allHostsValid = false;
    }
  });

  // Literal and wildcard duplicates (`*.foo.com` and `a.foo.com`) in one VirtualService.
  if (allHostsValid) {
    for (let i = 0; i < hosts.length; i++) {
      for (let j = i + 1; j < hosts.length; j++) {
        if (hostMatches(hosts[i]!, hosts[j]!)) {
          report.error(['spec', 'hosts', j], `duplicate hosts in virtual service: ${hosts[i]} & ${hosts[j]}`, 'list each host once; a wildcard host already covers the names it matches');
        }
      }
    }
  }

  if (!nonEmpty(vs.http) && !nonEmpty(vs.tcp) && !nonEmpty(vs.tls)) {
    report.error(['spec'], 'http, tcp or tls must be provided in virtual service', 'add at least one `http`, `tcp` or `tls` route');
  }
  list(vs.http).forEach((http, i) => {
    if (!isObject(http)) {
      report.error(['spec', 'http', i], 'http route may not be null', 'remove the empty entry');
      return;
    }
    validateHTTPRoute(report, ['spec', 'http', i], http, hosts.length === 0, gatewaySemantics);
  });
  list(vs.tls).forEach((tls, i) => validateTLSRoute(report, ['spec', 'tls', i], tls, vs, gatewaySemantics));
  list(vs.tcp).forEach((tcp, i) => validateTCPRoute(report, ['spec', 'tcp', i], tcp, gatewaySemantics));

  reportExportTo(report, ['spec', 'exportTo'], ctx.resource.metadata.namespace, vs.exportTo, false, false);

  analyzeUnreachableRules(report, vs);
};
