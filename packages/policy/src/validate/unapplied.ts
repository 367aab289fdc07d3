/**
 * Fields Meshwork reads and validates but does not apply in-process. Each one present in a
 * document is reported (severity info) so that nothing is ignored silently.
 */
import type { PathSegment, Resource } from '../load/resource.js';

interface Unapplied {
  path: PathSegment[];
  message: string;
}

const WHY = {
  tcp: 'TCP routing needs a proxy in the connection path; Meshwork routes HTTP and gRPC requests',
  tls: 'TLS (SNI) routing of un-terminated TLS needs a proxy in the connection path',
  tunnel: 'tunnelling TCP through CONNECT is an Envoy upstream feature',
  proxyProtocol: 'PROXY protocol is written by a TCP proxy',
  envoy: 'this tunes Envoy itself',
};

function has(obj: any, key: string): boolean {
  return obj && typeof obj === 'object' && obj[key] !== undefined;
}

function trafficPolicyFields(tp: any, base: PathSegment[], out: Unapplied[]): void {
  if (!tp || typeof tp !== 'object') return;
  if (has(tp, 'tunnel')) out.push({ path: [...base, 'tunnel'], message: `not applied in-process: ${WHY.tunnel}` });
  if (has(tp, 'proxyProtocol')) out.push({ path: [...base, 'proxyProtocol'], message: `not applied in-process: ${WHY.proxyProtocol}` });
  const tcp = tp.connectionPool?.tcp;
  if (has(tcp, 'tcpKeepalive')) out.push({ path: [...base, 'connectionPool', 'tcp', 'tcpKeepalive'], message: 'not applied in-process: Node sockets take one keep-alive delay, not probes/interval' });
  const http = tp.connectionPool?.http;
  if (has(http, 'h2UpgradePolicy')) out.push({ path: [...base, 'connectionPool', 'http', 'h2UpgradePolicy'], message: 'not applied in-process: the client speaks the protocol the application chose' });
  if (has(http, 'useClientProtocol')) out.push({ path: [...base, 'connectionPool', 'http', 'useClientProtocol'], message: 'not applied in-process: requests already leave in the client protocol' });
  if (has(tp.tls, 'credentialName')) out.push({ path: [...base, 'tls', 'credentialName'], message: 'not applied in-process: credentialName names a Kubernetes Secret read by gateways' });
}

export function unappliedFields(r: Resource): Unapplied[] {
  const out: Unapplied[] = [];
  const s = r.spec ?? {};
  switch (r.kind) {
    case 'VirtualService':
      if (Array.isArray(s.tcp)) out.push({ path: ['spec', 'tcp'], message: `not applied in-process: ${WHY.tcp}` });
      if (Array.isArray(s.tls)) out.push({ path: ['spec', 'tls'], message: `not applied in-process: ${WHY.tls}` });
      if (Array.isArray(s.gateways) && s.gateways.some((g: unknown) => g !== 'mesh')) {
        out.push({ path: ['spec', 'gateways'], message: 'rules bound to gateways other than "mesh" apply only on those gateways, not in-process' });
      }
      (Array.isArray(s.http) ? s.http : []).forEach((h: any, i: number) => {
        if (has(h, 'corsPolicy')) {
          out.push({ path: ['spec', 'http', i, 'corsPolicy'], message: 'not applied in-process: CORS preflights come from browsers, which reach a gateway, never an in-process client' });
        }
        (Array.isArray(h?.match) ? h.match : []).forEach((m: any, j: number) => {
          if (has(m, 'statPrefix')) out.push({ path: ['spec', 'http', i, 'match', j, 'statPrefix'], message: `not applied in-process: ${WHY.envoy}` });
        });
      });
      break;
    case 'DestinationRule':
      trafficPolicyFields(s.trafficPolicy, ['spec', 'trafficPolicy'], out);
      (Array.isArray(s.trafficPolicy?.portLevelSettings) ? s.trafficPolicy.portLevelSettings : []).forEach((p: any, i: number) =>
        trafficPolicyFields(p, ['spec', 'trafficPolicy', 'portLevelSettings', i], out));
      (Array.isArray(s.subsets) ? s.subsets : []).forEach((sub: any, i: number) => trafficPolicyFields(sub?.trafficPolicy, ['spec', 'subsets', i, 'trafficPolicy'], out));
      break;
    case 'ServiceEntry':
      if (Array.isArray(s.addresses) && s.addresses.length > 0) out.push({ path: ['spec', 'addresses'], message: 'not applied in-process: requests are routed by host name, not by the VIP the application connects to' });
      break;
    case 'Sidecar':
      if (Array.isArray(s.ingress)) out.push({ path: ['spec', 'ingress'], message: 'not applied in-process: the application owns its listeners' });
      if (has(s, 'inboundConnectionPool')) out.push({ path: ['spec', 'inboundConnectionPool'], message: 'not applied in-process: there is no proxy hop between caller and application' });
      (Array.isArray(s.egress) ? s.egress : []).forEach((e: any, i: number) => {
        for (const k of ['port', 'bind', 'captureMode']) if (has(e, k)) out.push({ path: ['spec', 'egress', i, k], message: 'not applied in-process: there is no egress listener to bind or capture traffic' });
      });
      break;
    case 'Gateway':
      out.push({ path: ['spec'], message: 'Gateway configures a standalone Envoy gateway; in-process workloads only use it to tell which VirtualServices bind to "mesh"' });
      break;
    case 'WorkloadEntry':
    case 'WorkloadGroup':
      break;
  }
  return out;
}
