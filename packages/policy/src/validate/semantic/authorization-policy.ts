/**
 * AuthorizationPolicy semantic validation, ported from istio/istio
 * pkg/config/validation/validation.go (ValidateAuthorizationPolicy, checkDryRunAnnotation) and
 * pkg/config/security/security.go (value and `when` key checks).
 */
import type { Reporter, SemanticValidator } from '../types.js';
import { showValue } from '../go-compat.js';
import {
  enumName, isObject, msg, msgList, nonEmpty, type Obj, type Path, str, strList, validateMetadata,
  validatePolicySelection,
} from './common.js';
import {
  checkEmptyValues, checkServiceAccount, checkTrustDomainValues, checkValidPathTemplate, validateAttribute,
  validateIPs, validatePorts, type ValueError,
} from './security-common.js';

const ACTIONS = ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'] as const;

// Source fields in the order Istio checks them, with the Go field name used in messages.
const SOURCE_FIELDS: readonly [json: string, goName: string][] = [
  ['principals', 'Principals'],
  ['requestPrincipals', 'RequestPrincipals'],
  ['namespaces', 'Namespaces'],
  ['serviceAccounts', 'ServiceAccounts'],
  ['trustDomains', 'TrustDomains'],
  ['ipBlocks', 'IpBlocks'],
  ['remoteIpBlocks', 'RemoteIpBlocks'],
  ['notPrincipals', 'NotPrincipals'],
  ['notRequestPrincipals', 'NotRequestPrincipals'],
  ['notNamespaces', 'NotNamespaces'],
  ['notServiceAccounts', 'NotServiceAccounts'],
  ['notTrustDomains', 'NotTrustDomains'],
  ['notIpBlocks', 'NotIpBlocks'],
  ['notRemoteIpBlocks', 'NotRemoteIpBlocks'],
];
const OPERATION_FIELDS: readonly [json: string, goName: string][] = [
  ['ports', 'Ports'],
  ['methods', 'Methods'],
  ['paths', 'Paths'],
  ['hosts', 'Hosts'],
  ['notPorts', 'NotPorts'],
  ['notMethods', 'NotMethods'],
  ['notPaths', 'NotPaths'],
  ['notHosts', 'NotHosts'],
];
// Identity fields the ext_authz (CUSTOM) filter cannot see: it runs before mTLS peer and JWT
// identities are available to Envoy's RBAC matching.
const CUSTOM_UNSUPPORTED_SOURCE: readonly [json: string, label: string][] = [
  ['namespaces', 'From.Namespaces'],
  ['notNamespaces', 'From.NotNamespaces'],
  ['serviceAccounts', 'From.ServiceAccounts'],
  ['notServiceAccounts', 'From.NotServiceAccounts'],
  ['trustDomains', 'From.TrustDomains'],
  ['notTrustDomains', 'From.NotTrustDomains'],
  ['principals', 'From.Principals'],
  ['notPrincipals', 'From.NotPrincipals'],
  ['requestPrincipals', 'From.RequestPrincipals'],
  ['notRequestPrincipals', 'From.NotRequestPrincipals'],
];
const CUSTOM_UNSUPPORTED_WHEN = new Set(['source.namespace', 'source.serviceAccount', 'source.trustDomain', 'source.principal']);

const EMPTY_FIX = 'remove the empty string; use "*" to match any non-empty value';

function reportValueErrors(report: Reporter, path: Path, errs: readonly ValueError[], fix: string, prefix = ''): void {
  for (const e of errs) report.error(e.index === undefined ? path : [...path, e.index], prefix + e.message, fix);
}

/** validation.go: ValidateAuthorizationPolicy. */
export const validateAuthorizationPolicy: SemanticValidator = (spec, ctx) => {
  const s: Obj = isObject(spec) ? spec : {};
  const report = ctx.report;
  const action = enumName(s.action, ACTIONS);
  if (!validateMetadata(ctx, action)) return;

  validatePolicySelection(s, report);

  // jsonpb decodes `rules: []` to a nil slice, so an empty list counts as "no rules".
  const hasRules = nonEmpty(s.rules);
  const rules = msgList(s.rules);
  const provider = msg(s.provider);

  if (action === 'CUSTOM') {
    if (!hasRules) {
      report.error(['spec', 'action'], 'CUSTOM action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request', 'add `rules: [{}]` to send every request to the provider, or rules that select the requests to check');
    } else if (!provider || str(provider.name) === '') {
      report.error(provider ? ['spec', 'provider', 'name'] : ['spec', 'provider'], '`provider.name` must not be empty', 'set provider.name to an extension provider declared in meshConfig.extensionProviders');
    }
    rules.forEach((rule, i) => {
      msgList(rule.from).forEach((from, j) => {
        const src = msg(from.source);
        if (!src) return;
        for (const [field, label] of CUSTOM_UNSUPPORTED_SOURCE) {
          if (nonEmpty(src[field])) {
            report.error(['spec', 'rules', i, 'from', j, 'source', field], `${label} is currently not supported with CUSTOM action`, 'CUSTOM runs before peer and JWT authentication: match on ipBlocks, remoteIpBlocks or request fields instead, and leave identity checks to the external authorizer or to an ALLOW/DENY policy');
          }
        }
      });
      msgList(rule.when).forEach((cond, k) => {
        const key = str(cond.key);
        if (CUSTOM_UNSUPPORTED_WHEN.has(key) || key.startsWith('request.auth.')) {
          report.error(['spec', 'rules', i, 'when', k, 'key'], `${key} is currently not supported with CUSTOM action`, 'CUSTOM runs before peer and JWT authentication: use a key such as source.ip, remote.ip or request.headers[...] instead');
        }
      });
    });
  }
  if (provider && action !== 'CUSTOM') {
    report.error(['spec', 'provider'], `\`provider\` must not be with non CUSTOM action, found ${action}`, 'remove provider, or set `action: CUSTOM`');
  }
  if (action === 'DENY' && !hasRules) {
    report.error(['spec', 'action'], 'DENY action without `rules` is meaningless as it will never be triggered, add an empty rule `{}` if you want it be triggered for every request', 'add `rules: [{}]` to deny every request, or rules that select the requests to deny');
  }

  rules.forEach((rule, i) => {
    const rulePath = ['spec', 'rules', i];
    let tcpRulesInFrom = false;
    let tcpRulesInTo = false;
    let fromRuleExist = false;
    let toRuleExist = false;

    msgList(rule.from).forEach((from, j) => {
      const fromPath = [...rulePath, 'from', j];
      const src = msg(from.source);
      if (!src) {
        report.error(fromPath, `\`from.source\` must not be nil, found at rule ${i}`, 'add a `source` with at least one field, or remove this `from` entry');
        return;
      }
      fromRuleExist = true;
      const srcPath = [...fromPath, 'source'];
      const set = (f: string): boolean => nonEmpty(src[f]);
      if ((set('principals') || set('notPrincipals') || set('namespaces') || set('notNamespaces')) && (set('serviceAccounts') || set('notServiceAccounts'))) {
        report.error(srcPath, `cannot set serviceAccounts with namespaces or principals, found at rule ${i}`, 'use either serviceAccounts or principals/namespaces in one source; put the other in a separate `from` entry');
      }
      if (!SOURCE_FIELDS.some(([f]) => set(f))) {
        report.error(srcPath, `\`from.source\` must not be empty, found at rule ${i}`, 'add at least one field such as principals or namespaces, or remove this `from` entry (an absent `from` matches any source)');
      }
      for (const f of ['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks']) {
        reportValueErrors(report, [...srcPath, f], validateIPs(strList(src[f])), 'use an IPv4 or IPv6 address or CIDR range such as 10.0.0.0/16');
      }
      for (const [f, goName] of SOURCE_FIELDS) {
        const values = strList(src[f]);
        let e: ValueError | undefined;
        if (f === 'serviceAccounts' || f === 'notServiceAccounts') e = checkServiceAccount(goName, values);
        else if (f === 'trustDomains' || f === 'notTrustDomains') e = checkTrustDomainValues(goName, values);
        else e = checkEmptyValues(goName, values);
        if (e) reportValueErrors(report, [...srcPath, f], [e], fixForSourceField(f));
      }
      if (['notPrincipals', 'principals', 'ipBlocks', 'notIpBlocks', 'namespaces', 'notNamespaces', 'remoteIpBlocks', 'notRemoteIpBlocks', 'serviceAccounts', 'notServiceAccounts'].some(set)) {
        tcpRulesInFrom = true;
      }
    });

    msgList(rule.to).forEach((to, j) => {
      const toPath = [...rulePath, 'to', j];
      const op = msg(to.operation);
      if (!op) {
        report.error(toPath, `\`to.operation\` must not be nil, found at rule ${i}`, 'add an `operation` with at least one field, or remove this `to` entry');
        return;
      }
      toRuleExist = true;
      const opPath = [...toPath, 'operation'];
      const set = (f: string): boolean => nonEmpty(op[f]);
      if (!OPERATION_FIELDS.some(([f]) => set(f))) {
        report.error(opPath, `\`to.operation\` must not be empty, found at rule ${i}`, 'add at least one field such as paths or methods, or remove this `to` entry (an absent `to` matches any operation)');
      }
      for (const f of ['ports', 'notPorts']) {
        reportValueErrors(report, [...opPath, f], validatePorts(strList(op[f])), 'use a port number from 0 to 65535, as a string');
      }
      for (const [f, goName] of OPERATION_FIELDS) {
        const e = checkEmptyValues(goName, strList(op[f]));
        if (e) reportValueErrors(report, [...opPath, f], [e], EMPTY_FIX);
      }
      for (const [f, goName] of [['paths', 'Paths'], ['notPaths', 'NotPaths']] as const) {
        const e = checkValidPathTemplate(goName, strList(op[f]));
        if (e) reportValueErrors(report, [...opPath, f], [e], 'path templates allow whole segments {*} (one segment) and {**} (the rest, last only); other segments must be plain text');
      }
      if (set('ports') || set('notPorts')) tcpRulesInTo = true;
    });

    msgList(rule.when).forEach((cond, k) => {
      const condPath = [...rulePath, 'when', k];
      const key = str(cond.key);
      if (key === '') {
        report.error([...condPath, 'key'], '`key` must not be empty', 'set key to a supported attribute such as request.headers[x-user] or source.ip');
        return;
      }
      if (!nonEmpty(cond.values) && !nonEmpty(cond.notValues)) {
        report.error(condPath, `at least one of \`values\` or \`notValues\` must be set for key ${showValue(key)}`, 'add values (any of them must match) or notValues (none may match)');
        return;
      }
      for (const [f, label] of [['values', 'value'], ['notValues', 'notValue']] as const) {
        const errs = validateAttribute(key, strList(cond[f]));
        for (const e of errs) {
          const keyProblem = e.index === undefined;
          report.error(keyProblem ? [...condPath, 'key'] : [...condPath, f, e.index!], `invalid \`${label}\` for \`key\` ${showValue(key)}: ${e.message}`, keyProblem ? fixForKey(key) : fixForConditionValue(key));
        }
      }
    });

    if (((fromRuleExist && !toRuleExist && !tcpRulesInFrom) || (toRuleExist && !tcpRulesInTo)) && action === 'DENY') {
      report.warn(rulePath, 'configured AuthorizationPolicy will deny all traffic to TCP ports under its scope due to the use of only HTTP attributes in a DENY rule; it is recommended to explicitly specify the port', 'add `ports` to the operation so the rule only applies to HTTP ports');
    }
  });
};

function fixForSourceField(field: string): string {
  if (field === 'serviceAccounts' || field === 'notServiceAccounts') return 'write "namespace/serviceAccount" or "serviceAccount" (at most 16 entries, no wildcards)';
  if (field === 'trustDomains' || field === 'notTrustDomains') return 'write a trust domain such as cluster.local, with at most one leading or trailing *, without "/"';
  return EMPTY_FIX;
}

function fixForKey(key: string): string {
  if (key.startsWith('destination.labels')) return 'select the workload with spec.selector instead';
  if (key === 'destination.namespace') return 'the policy applies to its own namespace; put it in the namespace you want to protect';
  return 'use a supported key: request.headers[<name>], source.ip, remote.ip, source.namespace, source.principal, source.serviceAccount, source.trustDomain, request.auth.principal, request.auth.audiences, request.auth.presenter, request.auth.claims[<claim>], destination.ip, destination.port, connection.sni or experimental.envoy.filters.*[<key>]';
}

function fixForConditionValue(key: string): string {
  if (key.endsWith('.ip')) return 'use an IPv4 or IPv6 address or CIDR range such as 10.0.0.0/16';
  if (key === 'destination.port') return 'use a port number from 0 to 65535, as a string';
  if (key === 'source.serviceAccount') return 'write "namespace/serviceAccount" or "serviceAccount", without wildcards';
  if (key === 'source.trustDomain') return 'use at most one leading or trailing *';
  return EMPTY_FIX;
}
