/**
 * The public JSON of `meshwork explain` (README: "explain contract"). Fields may be added,
 * never renamed: users and tests rely on them.
 */
import { outboundNotes, type OutboundDecision } from './outbound.js';
import type { InboundDecision } from './inbound.js';

export interface ExplainOutbound {
  host: string;
  virtualService: string | null;
  rule: number | null;
  action: OutboundDecision['action'];
  destinations: { host: string; subset: string | null; port: number; weight: number }[];
  timeoutMs: number | null;
  retries: { attempts: number; perTryTimeoutMs: number | null; retryOn: string } | null;
  fault: { delay: { ms: number; percent: number } | null; abort: { httpStatus?: number; grpcStatus?: string; percent: number } | null } | null;
  mirror: { host: string; subset: string | null; port: number; percent: number } | null;
  redirect: { status: number; location: string } | null;
  directResponse: { status: number; body: string | null } | null;
  /** Added: every mirror target (`mirrors`), the matched `match` entry, the rewritten request, notes. */
  mirrors: { host: string; subset: string | null; port: number; percent: number }[];
  match: number | null;
  rewrite: { path: string; authority: string } | null;
  destinationRules: (string | null)[];
  notes: string[];
}

export function explainOutboundJson(d: OutboundDecision, destinationRuleIds: (string | null)[] = []): ExplainOutbound {
  const forwarding = d.action === 'route';
  const mirrors = d.mirrors.map((m) => ({ host: m.host, subset: m.subset, port: m.port, percent: m.percent }));
  return {
    host: d.host,
    virtualService: d.virtualService?.id ?? null,
    rule: d.rule?.index ?? null,
    action: d.action,
    destinations: d.destinations.map((x) => ({ host: x.host, subset: x.subset, port: x.port, weight: x.weight })),
    timeoutMs: forwarding ? d.timeoutMs : null,
    retries: forwarding && d.retries ? { attempts: d.retries.attempts, perTryTimeoutMs: d.retries.perTryTimeoutMs, retryOn: d.retries.retryOn } : null,
    fault: forwarding && d.fault
      ? {
          delay: d.fault.delay ? { ms: d.fault.delay.ms, percent: d.fault.delay.percent } : null,
          abort: d.fault.abort
            ? d.fault.abort.httpStatus !== undefined
              ? { httpStatus: d.fault.abort.httpStatus, percent: d.fault.abort.percent }
              : { grpcStatus: d.fault.abort.grpcStatus!, percent: d.fault.abort.percent }
            : null,
        }
      : null,
    mirror: mirrors[0] ?? null,
    redirect: d.redirect,
    directResponse: d.directResponse,
    mirrors,
    match: d.matchIndex,
    rewrite: d.rewrite,
    destinationRules: destinationRuleIds,
    notes: outboundNotes(d),
  };
}

export interface ExplainInbound {
  mtls: InboundDecision['mtls'];
  connection: InboundDecision['connection'];
  decision: InboundDecision['decision'];
  policy: string | null;
  rule: number | null;
  dryRun: string[];
  /** Added: AUDIT policies that matched, CUSTOM policies present, JWT rules, request principal, normalised path, notes. */
  audit: string[];
  custom: string[];
  jwtRules: string[];
  requestPrincipal: string | null;
  path: string;
  notes: string[];
}

export function explainInboundJson(d: InboundDecision): ExplainInbound {
  return {
    mtls: d.mtls,
    connection: d.connection,
    decision: d.decision,
    policy: d.policy?.id ?? null,
    rule: d.rule,
    dryRun: d.dryRun.map((p) => p.id),
    audit: d.audit.map((p) => p.id),
    custom: d.custom.map((p) => p.id),
    jwtRules: d.jwtRules.map((j) => `${j.policy}#${j.index} (${String(j.rule?.issuer ?? '')})`),
    requestPrincipal: d.requestPrincipal,
    path: d.path,
    notes: d.notes,
  };
}
