/**
 * PeerAuthentication semantic validation, ported from istio/istio
 * pkg/config/validation/validation.go (ValidatePeerAuthentication).
 */
import type { SemanticValidator } from '../types.js';
import { isObject, msg, type Obj, validateMetadata, validateWorkloadSelector } from './common.js';

/** validation.go: ValidatePeerAuthentication. */
export const validatePeerAuthentication: SemanticValidator = (spec, ctx) => {
  const s: Obj = isObject(spec) ? spec : {};
  const report = ctx.report;
  if (!validateMetadata(ctx)) return;

  const selector = msg(s.selector);
  const labels = selector && isObject(selector.matchLabels) ? selector.matchLabels : {};
  const emptySelector = Object.keys(labels).length === 0;
  // An empty map stays a (non-nil) empty map through jsonpb, unlike an empty list.
  const portLevel = isObject(s.portLevelMtls) ? s.portLevelMtls : undefined;
  const ports = portLevel ? Object.keys(portLevel) : [];

  if (emptySelector && ports.length !== 0) {
    report.error(['spec', 'portLevelMtls'], 'mesh/namespace peer authentication cannot have port level mTLS', 'add selector.matchLabels to target specific workloads, or move the port settings to a workload-level PeerAuthentication');
  }
  if (portLevel && ports.length === 0) {
    report.error(['spec', 'portLevelMtls'], 'port level mTLS, if defined, must have at least one element', 'remove portLevelMtls, or add a port entry such as `8080: {mode: DISABLE}`');
  }
  for (const port of ports) {
    // Keys decode as uint32; anything that is not a number in 1..65535 is rejected.
    if (!/^[0-9]+$/.test(port) || Number(port) <= 0 || Number(port) > 65535) {
      report.error(['spec', 'portLevelMtls', port], 'port must be in range 1..65535', 'use the workload (container) port number, from 1 to 65535');
    }
  }
  validateWorkloadSelector(s.selector, ['spec', 'selector'], report);
};
