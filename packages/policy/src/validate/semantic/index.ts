/**
 * Semantic validators by kind. Each kind's rules live in their own file, ported from
 * istio/istio pkg/config/validation (validation.go, virtualservice.go, agent/validation.go).
 */
import type { SemanticValidator } from '../types.js';
import { validateAuthorizationPolicy } from './authorization-policy.js';
import { validateEnvoyFilter, validateProxyConfig, validateTrafficExtension, validateWasmPlugin } from './extensions.js';
import { validatePeerAuthentication } from './peer-authentication.js';
import { validateRequestAuthentication } from './request-authentication.js';
import { validateTelemetry } from './telemetry.js';
import { validateDestinationRule } from './destination-rule.js';
import { validateGateway } from './gateway.js';
import { validateServiceEntry } from './service-entry.js';
import { validateSidecar } from './sidecar.js';
import { validateVirtualService } from './virtual-service.js';
import { validateWorkloadEntry, validateWorkloadGroup } from './workload-entry.js';

export const SEMANTIC_VALIDATORS: ReadonlyMap<string, SemanticValidator> = new Map<string, SemanticValidator>([
  ['VirtualService', validateVirtualService],
  ['DestinationRule', validateDestinationRule],
  ['ServiceEntry', validateServiceEntry],
  ['Sidecar', validateSidecar],
  ['Gateway', validateGateway],
  ['WorkloadEntry', validateWorkloadEntry],
  ['WorkloadGroup', validateWorkloadGroup],
  ['AuthorizationPolicy', validateAuthorizationPolicy],
  ['PeerAuthentication', validatePeerAuthentication],
  ['RequestAuthentication', validateRequestAuthentication],
  ['Telemetry', validateTelemetry],
  ['EnvoyFilter', validateEnvoyFilter],
  ['WasmPlugin', validateWasmPlugin],
  ['ProxyConfig', validateProxyConfig],
  ['TrafficExtension', validateTrafficExtension],
]);
