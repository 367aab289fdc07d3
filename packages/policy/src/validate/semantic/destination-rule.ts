/**
 * DestinationRule semantic validation: a port of validation.go `ValidateDestinationRule`
 * (host, traffic policy, subsets, exportTo, workloadSelector). Traffic-policy pieces live in
 * traffic-policy.ts.
 */
import type { SemanticValidator } from '../types.js';
import {
  isObject, isSet, list, reportExportTo, reportLabels, str, validateMetadata, validateWildcardDomain,
  validateWorkloadSelector,
} from './common.js';
import { errorsOnly, validateTrafficPolicy } from './traffic-policy.js';
import { validateSubsetName } from './virtual-service-http.js';

export const validateDestinationRule: SemanticValidator = (spec, ctx) => {
  if (!validateMetadata(ctx)) return;
  if (!isObject(spec)) return;
  const { report } = ctx;
  const namespace = ctx.resource.metadata.namespace;

  const hostErr = validateWildcardDomain(str(spec.host));
  if (hostErr) report.error(['spec', 'host'], hostErr, 'use a service name (`reviews`), an FQDN (`reviews.ns.svc.cluster.local`) or a wildcard (`*.example.com`)');
  validateTrafficPolicy(report, ['spec', 'trafficPolicy'], namespace, spec.trafficPolicy);

  // Istio collects subset findings with appendErrors, which drops warnings.
  const subsetReport = errorsOnly(report);
  const names = new Set<string>();
  list(spec.subsets).forEach((subset, i) => {
    const p = ['spec', 'subsets', i];
    if (!isObject(subset)) {
      report.error(p, 'subset may not be null', 'remove the empty entry');
      return;
    }
    const name = str(subset.name);
    if (names.has(name)) report.error([...p, 'name'], `duplicate subset names: ${name}`, 'give each subset a unique name');
    names.add(name);
    const nameErr = validateSubsetName(name);
    if (nameErr) report.error([...p, 'name'], nameErr, 'subset names are DNS-1123 labels: lowercase letters, digits and `-`');
    reportLabels(subsetReport, [...p, 'labels'], subset.labels);
    validateTrafficPolicy(subsetReport, [...p, 'trafficPolicy'], namespace, subset.trafficPolicy);
  });

  reportExportTo(report, ['spec', 'exportTo'], namespace, spec.exportTo, false, isSet(spec, 'workloadSelector'));

  validateWorkloadSelector(spec.workloadSelector, ['spec', 'workloadSelector'], report);
};
