/**
 * How the client talks to one endpoint: plaintext, Istio mTLS with the workload certificate
 * and secure naming, or the DestinationRule's own TLS (SIMPLE / MUTUAL) — reference §2.6 and
 * §12 (cluster_tls.go: buildUpstreamTLSSettings, applyAutoMTLS; buildIstioMutualTLS).
 * Decided per (cluster policy, endpoint) when a snapshot arrives, never per request.
 */
import type { MeshConfig } from '../mesh.js';
import type { ClusterPolicy } from './cluster-policy.js';
import type { Endpoint, MeshService } from './registry.js';

export type UpstreamTls =
  | { mode: 'plaintext' }
  /** Istio mTLS: the workload's own certificate, the mesh roots, the server must present one of `allowedIds`. */
  | { mode: 'istio'; sni: string; allowedIds: string[]; auto: boolean }
  /** TLS origination as the DestinationRule gives it (file paths as Istio's sidecar would read them). */
  | { mode: 'simple' | 'mutual'; sni: string | undefined; subjectAltNames: string[]; caCertificates: string | undefined; clientCertificate: string | undefined; privateKey: string | undefined; insecureSkipVerify: boolean };

/**
 * The identities a server of `service` may present (secure naming): the service accounts of
 * its workloads as SPIFFE IDs — in every trust domain alias, as Istio expands them
 * (spiffe.ExpandWithTrustDomains) — and the ServiceEntry's `subjectAltNames` as written.
 */
export function secureNamingIds(service: MeshService, mesh: MeshConfig): string[] {
  const out = new Set<string>();
  const domains = [mesh.trustDomain, ...mesh.trustDomainAliases];
  for (const sa of service.serviceAccounts) {
    if (sa.includes('://') || sa.includes('/')) {
      out.add(sa);
      continue;
    }
    for (const td of domains) out.add(`spiffe://${td.replace(/@/g, '.')}/ns/${service.namespace}/sa/${sa}`);
  }
  return [...out];
}

/** Envoy's SNI for Istio mTLS: `outbound_.<port>_.<subset>_.<host>` (model.BuildDNSSrvSubsetKey). */
export function istioSni(host: string, subset: string | undefined, port: number): string {
  return `outbound_.${port}_.${subset ?? ''}_.${host}`;
}

/**
 * `clientHasIdentity`: whether this workload has a certificate. A sidecar always has one; an
 * in-process client may not, and then auto-mTLS can only send plaintext (an explicit
 * ISTIO_MUTUAL still asks for mTLS, and the data plane fails the call with flag UF).
 */
export function upstreamTls(tls: ClusterPolicy['tls'], service: MeshService | undefined, endpoint: Pick<Endpoint, 'tlsMode'>, cluster: { host: string; subset: string | undefined; port: number }, mesh: MeshConfig, clientHasIdentity = true): UpstreamTls {
  switch (tls.mode) {
    case 'DISABLE':
      return { mode: 'plaintext' };
    case 'ISTIO_MUTUAL': {
      // Auto-mTLS: only endpoints that run the mesh get mTLS; the rest plaintext.
      if (tls.auto && (endpoint.tlsMode !== 'istio' || !clientHasIdentity)) return { mode: 'plaintext' };
      const override = tls.subjectAltNames?.filter((s) => s !== '') ?? [];
      return {
        mode: 'istio',
        sni: tls.sni || istioSni(cluster.host, cluster.subset, cluster.port),
        allowedIds: override.length > 0 ? override : service ? secureNamingIds(service, mesh) : [],
        auto: tls.auto,
      };
    }
    case 'SIMPLE':
    case 'MUTUAL':
      return {
        mode: tls.mode === 'SIMPLE' ? 'simple' : 'mutual',
        // Unset: the data plane sends the request's host as SNI, as Envoy's auto SNI (ENABLE_AUTO_SNI) does.
        sni: tls.sni || undefined,
        subjectAltNames: tls.subjectAltNames?.filter((s) => s !== '') ?? [],
        caCertificates: tls.caCertificates,
        clientCertificate: tls.clientCertificate,
        privateKey: tls.privateKey,
        insecureSkipVerify: tls.insecureSkipVerify === true,
      };
  }
}
