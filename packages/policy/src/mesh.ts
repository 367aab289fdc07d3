import type { TelemetryMeshSettings } from './compile/telemetry.js';

/**
 * Mesh-wide settings (Istio's MeshConfig subset that changes decisions), with Istio's
 * defaults (pkg/config/mesh/mesh.go: DefaultMeshConfig). The telemetry fields
 * (`extensionProviders`, `defaultProviders`, `defaultTracingSampling`) are optional: absent,
 * `compileTelemetry` applies Istio's defaults (the `prometheus`, `stackdriver` and `envoy`
 * providers; `defaultProviders: {metrics: [prometheus]}`; 1 % trace sampling).
 */
export interface MeshConfig extends TelemetryMeshSettings {
  /** `meshConfig.rootNamespace`: policies here apply mesh-wide. */
  rootNamespace: string;
  /** `meshConfig.trustDomain`: the SPIFFE trust domain. */
  trustDomain: string;
  /** Aliases treated as the same trust domain in authorization. */
  trustDomainAliases: string[];
  /** Kubernetes DNS suffix: `<name>.<ns>.svc.<domainSuffix>`. */
  domainSuffix: string;
  /** `meshConfig.outboundTrafficPolicy.mode`. */
  outboundTrafficPolicy: 'ALLOW_ANY' | 'REGISTRY_ONLY';
  /** `meshConfig.pathNormalization.normalization`. */
  pathNormalization: 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES' | 'NONE';
  /** `meshConfig.enableAutoMtls`. */
  enableAutoMtls: boolean;
  /** `meshConfig.defaultHttpRetryPolicy`: replaces the built-in default retry policy when set. */
  defaultHttpRetryPolicy?: { attempts?: number; perTryTimeout?: string; retryOn?: string } | undefined;
  /** `DISABLE_SHADOW_HOST_SUFFIX` (Istio >= 1.28 default true): no `-shadow` suffix on mirrored Host. */
  disableShadowHostSuffix: boolean;
}

export const DEFAULT_MESH_CONFIG: Readonly<MeshConfig> = Object.freeze({
  rootNamespace: 'istio-system',
  trustDomain: 'cluster.local',
  trustDomainAliases: [],
  domainSuffix: 'cluster.local',
  outboundTrafficPolicy: 'ALLOW_ANY',
  pathNormalization: 'BASE',
  enableAutoMtls: true,
  disableShadowHostSuffix: true,
});

export function meshConfig(overrides: Partial<MeshConfig> = {}): MeshConfig {
  return { ...DEFAULT_MESH_CONFIG, trustDomainAliases: [], ...overrides };
}

/** The workload a snapshot is compiled for: who the caller (outbound) or the server (inbound) is. */
export interface WorkloadIdentity {
  namespace: string;
  labels: Record<string, string>;
  serviceAccount?: string | undefined;
  /** Workload name (e.g. Deployment name), for telemetry. */
  name?: string | undefined;
}

/**
 * Parses `app=reviews,version=v2` (MESHWORK_LABELS, `--labels`). Returns the labels, or the
 * first malformed part so callers can say which.
 */
export function parseLabels(text: string | undefined): Record<string, string> | { invalid: string } {
  const out: Record<string, string> = {};
  for (const part of (text ?? '').split(',')) {
    if (!part.trim()) continue;
    const eq = part.indexOf('=');
    if (eq <= 0) return { invalid: part };
    out[part.slice(0, eq).trim()] = part.slice(eq + 1).trim();
  }
  return out;
}
