/**
 * The inbound decision: what a server does with a request — effective mTLS mode on the
 * port, whether the connection is accepted, the JWT rules that apply, and the
 * authorization result (CUSTOM, DENY, ALLOW; AUDIT and dry-run recorded) (reference §4–§6).
 */
import type { Snapshot } from '../compile/snapshot.js';
import { mtlsModeForPort, type CompiledAuthzPolicy, type InboundAttributes, type JwtRuleRef, type MtlsMode } from '../compile/security.js';
import { normalizePath, splitPathQuery } from './path.js';

export interface InboundRequest {
  /** Workload (container) port. */
  port: number;
  /** mTLS peer principal without `spiffe://`; undefined = plaintext. */
  principal?: string | undefined;
  sourceIp?: string | undefined;
  destinationIp?: string | undefined;
  method: string;
  /** Raw request target (path and query); normalised here. */
  target: string;
  /** Host header as sent (defaults to headers.host). */
  host?: string | undefined;
  headers: Readonly<Record<string, string>>;
  sni?: string | undefined;
  /** Claims of a token already verified; used only when a JWT rule of the workload accepts its `iss`. */
  jwtClaims?: Record<string, unknown> | undefined;
  /** X-Forwarded-For hops to trust for `remote.ip` (meshConfig numTrustedProxies). */
  numTrustedProxies?: number | undefined;
}

export interface InboundDecision {
  mtls: MtlsMode;
  connection: 'accepted' | 'rejected';
  decision: 'ALLOW' | 'DENY';
  /** The policy that decided, null for default allow / default deny. */
  policy: CompiledAuthzPolicy | null;
  rule: number | null;
  /** Dry-run policies whose enforcement would change the decision. */
  dryRun: CompiledAuthzPolicy[];
  /** AUDIT policies whose rules matched. */
  audit: CompiledAuthzPolicy[];
  /** CUSTOM policies that apply (no extension providers in-process: requests matching them are denied). */
  custom: CompiledAuthzPolicy[];
  /** JWT rules that apply to the workload. */
  jwtRules: JwtRuleRef[];
  /** `iss/sub` when the claims were accepted. */
  requestPrincipal: string | null;
  /** Normalised path authorization saw. */
  path: string;
  notes: string[];
}

export function inboundAttributes(snap: Snapshot, req: InboundRequest): { attrs: InboundAttributes; requestPrincipal: string | null; notes: string[] } {
  const notes: string[] = [];
  const { path } = splitPathQuery(req.target);
  let requestPrincipal: string | null = null;
  let claims: Record<string, unknown> | undefined;
  if (req.jwtClaims) {
    const iss = req.jwtClaims.iss;
    // The per-issuer claim lists are built at compile time for every issuer a rule accepts.
    const split = typeof iss === 'string' ? snap.inbound.spaceDelimitedClaims.get(iss) : undefined;
    if (split) {
      claims = splitSpaceDelimited(req.jwtClaims, split);
      requestPrincipal = `${iss}/${String(req.jwtClaims.sub ?? '')}`;
    } else {
      notes.push(`JWT claims ignored: no RequestAuthentication rule of this workload accepts issuer ${JSON.stringify(iss)}`);
    }
  }
  let remoteIp = req.sourceIp;
  const xff = req.headers['x-forwarded-for'];
  const trusted = req.numTrustedProxies ?? 0;
  if (xff && trusted > 0) remoteIp = trustedHop(xff, trusted) ?? remoteIp;
  return {
    attrs: {
      principal: req.principal,
      sourceIp: req.sourceIp,
      remoteIp,
      destinationIp: req.destinationIp,
      port: req.port,
      method: req.method,
      path: normalizePath(path, snap.mesh.pathNormalization),
      host: req.host ?? req.headers.host ?? '',
      headers: req.headers,
      sni: req.sni,
      requestPrincipal: requestPrincipal ?? undefined,
      claims,
    },
    requestPrincipal,
    notes,
  };
}

/**
 * The payload as Envoy's jwt_authn hands it to authorization: each named top-level claim that
 * is a string becomes the list of its space-separated words (authenticator.cc:
 * setPayloadMetadata). Copies only when there is something to split.
 */
export function splitSpaceDelimited(claims: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const n of names) {
    const v = claims[n];
    if (typeof v !== 'string') continue;
    out ??= { ...claims };
    out[n] = v.split(' ').filter((w) => w !== '');
  }
  return out ?? claims;
}

/**
 * The `trusted`-th non-empty hop of X-Forwarded-For counted from the right, scanned from the
 * end without splitting the header into arrays (it arrives on every proxied request).
 */
function trustedHop(xff: string, trusted: number): string | undefined {
  let end = xff.length;
  let seen = 0;
  while (end > 0) {
    const comma = xff.lastIndexOf(',', end - 1);
    const hop = xff.slice(comma + 1, end).trim();
    end = comma < 0 ? 0 : comma;
    if (hop === '') continue;
    if (++seen === trusted) return hop;
  }
  return undefined;
}

interface Verdict { decision: 'ALLOW' | 'DENY'; policy: CompiledAuthzPolicy | null; rule: number | null }

function firstMatch(policies: readonly CompiledAuthzPolicy[], a: InboundAttributes): { policy: CompiledAuthzPolicy; rule: number } | null {
  for (const p of policies) {
    for (let i = 0; i < p.rules.length; i++) if (p.rules[i]!(a)) return { policy: p, rule: i };
  }
  return null;
}

const ALLOW_DEFAULT: Verdict = Object.freeze({ decision: 'ALLOW', policy: null, rule: null }) as Verdict;
const DENY_DEFAULT: Verdict = Object.freeze({ decision: 'DENY', policy: null, rule: null }) as Verdict;

function authorizeSplit(denies: readonly CompiledAuthzPolicy[], allows: readonly CompiledAuthzPolicy[], a: InboundAttributes): Verdict {
  const deny = firstMatch(denies, a);
  if (deny) return { decision: 'DENY', policy: deny.policy, rule: deny.rule };
  if (allows.length === 0) return ALLOW_DEFAULT;
  const allow = firstMatch(allows, a);
  return allow ? { decision: 'ALLOW', policy: allow.policy, rule: allow.rule } : DENY_DEFAULT;
}

const NONE: CompiledAuthzPolicy[] = [];

/**
 * Whether enforcing a dry-run policy would change the decision, from the decision itself and
 * whether the policy matches (no second evaluation of every policy): a DENY changes an ALLOW it
 * matches; an ALLOW cannot undo a DENY policy's denial, makes a default allow (no enforced
 * ALLOW policy) a denial when it does not match, and a default denial an allow when it does.
 */
function dryRunChanges(p: CompiledAuthzPolicy, verdict: Verdict, hasAllow: boolean, a: InboundAttributes): boolean {
  const hit = p.rules.some((r) => r(a));
  if (p.action === 'DENY') return verdict.decision === 'ALLOW' && hit;
  if (verdict.policy?.action === 'DENY') return false;
  if (!hasAllow) return !hit;
  return verdict.decision === 'DENY' && hit;
}

/**
 * Whether PeerAuthentication refuses a connection before any HTTP exchange: plaintext on a
 * STRICT port, TLS on a DISABLE port. Returns the reason, or null when the connection is taken.
 * The listener (first byte), the pipeline and `decideInbound` all ask this one function.
 */
export function refusedConnection(mode: MtlsMode, tls: boolean): string | null {
  if (mode === 'STRICT' && !tls) return 'plaintext connection to a STRICT port: closed before any HTTP exchange';
  if (mode === 'DISABLE' && tls) return 'mTLS connection to a DISABLE port: the handshake fails';
  return null;
}

/** Decides an inbound request. */
export function decideInbound(snap: Snapshot, req: InboundRequest): InboundDecision {
  const mtls = mtlsModeForPort(snap.inbound.peerAuthentication, req.port);
  const { attrs, requestPrincipal, notes } = inboundAttributes(snap, req);
  // Grouped by action when the snapshot was compiled.
  const g = snap.inbound.groups;
  const custom = g.custom;
  const base = { mtls, jwtRules: snap.inbound.jwtRules, requestPrincipal, path: attrs.path, custom, notes };
  const refusal = refusedConnection(mtls, req.principal !== undefined);
  if (refusal) {
    notes.push(refusal);
    return { ...base, connection: 'rejected', decision: 'DENY', policy: null, rule: null, dryRun: NONE, audit: NONE };
  }
  const audit = g.audit.length > 0 ? g.audit.filter((p) => p.rules.some((r) => r(attrs))) : NONE;
  // Meshwork has no ext_authz extension providers, so every CUSTOM policy is in the state
  // Istio handles as an unusable provider: requests matching its rules are denied
  // (builder.go: getBadCustomDenyRules, "deny-due-to-bad-CUSTOM-action").
  const customHit = custom.length > 0 ? firstMatch(custom, attrs) : null;
  if (customHit) {
    notes.push(`CUSTOM authorization ${customHit.policy.id} (provider ${customHit.policy.provider ?? 'unset'}) matched: Meshwork has no extension providers, so the request is denied, as Istio denies it for an unusable provider`);
    return { ...base, connection: 'accepted', decision: 'DENY', policy: customHit.policy, rule: customHit.rule, dryRun: NONE, audit };
  }
  if (custom.length > 0) notes.push(`CUSTOM authorization (${custom.map((p) => p.id).join(', ')}) applies but none of its rules matched: DENY and ALLOW policies decide`);
  const verdict = authorizeSplit(g.deny, g.allow, attrs);
  const dryRun = g.dryRun.length > 0 ? g.dryRun.filter((p) => dryRunChanges(p, verdict, g.allow.length > 0, attrs)) : NONE;
  return { ...base, connection: 'accepted', decision: verdict.decision, policy: verdict.policy, rule: verdict.rule, dryRun, audit };
}
