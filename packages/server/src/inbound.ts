/**
 * The inbound pipeline, framework-neutral (reference §4–§6; DESIGN "Inbound request"):
 * peer identity from the connection → PeerAuthentication for the port → RequestAuthentication
 * (JWT; an invalid token gets 401) → AuthorizationPolicy (DENY, then ALLOW; denied gets 403
 * `RBAC: access denied`) → the handler, inside the caller's deadline. Every decision is made
 * by @meshwork/policy on the workload's snapshot; this file gathers the request's attributes,
 * calls it, and says what to answer.
 */
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { decideInbound, type InboundDecision, type MtlsMode, mtlsModeForPort, type Snapshot } from '@meshwork/policy';
import { Mesh, type MeshOptions } from '@meshwork/core';
import { peerSpiffeId } from '@meshwork/identity';
import { setMeshwork, type MeshworkContext } from './context.js';
import { JwtAuthenticator, type JwtAuthenticatorOptions } from './jwt.js';

export interface InboundOptions extends MeshOptions {
  /** An existing Mesh to share with the fetch data plane (else one is made from the other options). */
  mesh?: Mesh | undefined;
  /**
   * X-Forwarded-For hops to trust for `remoteIpBlocks` / `remote.ip`. Default 1: the last
   * X-Forwarded-For entry, as an Istio sidecar's inbound listener reads it (Envoy with
   * use_remote_address false); 0 uses the socket peer only (safer when clients reach the
   * workload directly, since they can write X-Forwarded-For themselves).
   */
  numTrustedProxies?: number | undefined;
  /** JWKS fetching (timeouts, refresh bounds). */
  jwt?: JwtAuthenticatorOptions | undefined;
  /**
   * Observes every request the pipeline decided (telemetry hooks in here: reporter=destination
   * metrics, server spans, access logs). A hook that throws never breaks the request.
   */
  onDecision?: ((event: InboundEvent) => void) | undefined;
}

/** What the pipeline tells its observer about one request. */
export interface InboundEvent {
  method: string;
  path: string;
  port: number;
  context: MeshworkContext;
  /** The local reply the pipeline sent, if it answered instead of the handler. */
  reply?: { status: number; reason: 'jwt' | 'rbac' | 'connection' } | undefined;
}

/** The request as the pipeline needs it: method, raw target, lower-cased headers, socket. */
export interface InboundRequestLike {
  method?: string | undefined;
  url?: string | undefined;
  headers: Record<string, string | string[] | undefined>;
  socket: Socket;
}

export type InboundVerdict =
  | { action: 'continue'; context: MeshworkContext; deadlineMs: number | undefined }
  | { action: 'reply'; status: number; body: string; headers: Record<string, string>; context: MeshworkContext; reason: 'jwt' | 'rbac' }
  | { action: 'close'; context: MeshworkContext; reason: string };

const RBAC_DENIED = 'RBAC: access denied';
const NO_NAMES: readonly string[] = Object.freeze([]);

/** `::ffff:127.0.0.1` → `127.0.0.1` (authorization's ipBlocks are written for IPv4). */
function plainIp(ip: string | undefined): string | undefined {
  return ip !== undefined && ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

export class Inbound {
  readonly mesh: Mesh;
  private readonly ownsMesh: boolean;
  private readonly jwt: JwtAuthenticator;
  private checkedSnapshot: Snapshot | undefined;
  private readonly warned = new Set<string>();

  constructor(readonly options: InboundOptions = {}) {
    this.ownsMesh = !options.mesh;
    this.mesh = options.mesh ?? new Mesh(options);
    this.jwt = new JwtAuthenticator(options.jwt);
    // At start-up, not at the first request: the operator hears about CUSTOM when the config loads.
    this.configChecks(this.mesh.snapshot);
  }

  /**
   * Said once per policy, when a snapshot with it first serves: CUSTOM authorization has no
   * extension provider in-process, so the requests it matches are denied (Istio does the same
   * for an unusable provider). A process warning, so it reaches the operator's log once.
   */
  private configChecks(snap: Snapshot): void {
    this.checkedSnapshot = snap;
    for (const p of snap.inbound.authorization) {
      if (p.action !== 'CUSTOM' || this.warned.has(p.id)) continue;
      this.warned.add(p.id);
      process.emitWarning(`AuthorizationPolicy ${p.id}: action CUSTOM (provider ${p.provider ?? 'unset'}) is not supported by Meshwork, which has no ext_authz providers; requests matching its rules are denied, as Istio denies them for an unusable provider. Use ALLOW/DENY policies instead.`, { type: 'MeshworkWarning', code: 'MESHWORK_CUSTOM_AUTHZ' });
    }
  }

  /** The PeerAuthentication mode on a workload port, under the snapshot in force now. */
  mtlsMode(port: number): MtlsMode {
    return mtlsModeForPort(this.mesh.snapshot.inbound.peerAuthentication, port);
  }

  /**
   * Decides one request. Synchronous when no JWT rule applies (the common case costs no
   * promise); a Promise when a token must be verified.
   */
  evaluate(req: InboundRequestLike): InboundVerdict | Promise<InboundVerdict> {
    const snap = this.mesh.snapshot;
    if (snap !== this.checkedSnapshot) this.configChecks(snap);
    const rules = snap.inbound.jwtRules;
    if (rules.length === 0) return this.authorize(req, undefined, null);
    const headers = req.headers as Record<string, string>;
    return this.jwt.authenticate(rules, { method: req.method ?? 'GET', target: req.url ?? '/', headers }).then((outcome) => {
      if (outcome.kind === 'invalid') {
        const context = this.context(req, this.mtlsMode(req.socket.localPort ?? 0), undefined, undefined, null);
        return { action: 'reply', status: outcome.status, body: outcome.body, headers: outcome.headers, context, reason: 'jwt' } as const;
      }
      // Strip (and, for a verified token, set) the headers RequestAuthentication owns before the
      // app sees them: a client cannot fake outputPayloadToHeader even without a token.
      for (const name of outcome.headers.remove) delete req.headers[name];
      for (const [name, value] of outcome.headers.set) req.headers[name] = value;
      if (outcome.kind === 'none') return this.authorize(req, undefined, null);
      if (outcome.target !== req.url) req.url = outcome.target;
      return this.authorize(req, outcome.claims as Record<string, unknown>, outcome.requestPrincipal);
    });
  }

  private authorize(req: InboundRequestLike, claims: Record<string, unknown> | undefined, requestPrincipal: string | null): InboundVerdict {
    const socket = req.socket;
    const port = socket.localPort ?? 0;
    const tls = (socket as TLSSocket).encrypted === true;
    const peerId = tls ? peerSpiffeId(socket as TLSSocket) : undefined;
    const principal = peerId?.slice('spiffe://'.length);
    const headers = req.headers as Record<string, string>;
    const decision: InboundDecision = decideInbound(this.mesh.snapshot, {
      port,
      // An mTLS connection without a SPIFFE ID still counts as TLS (an empty principal matches no rule).
      principal: tls ? (principal ?? '') : undefined,
      sourceIp: plainIp(socket.remoteAddress),
      destinationIp: plainIp(socket.localAddress),
      method: req.method ?? 'GET',
      target: req.url ?? '/',
      headers,
      sni: tls ? ((socket as TLSSocket).servername || undefined) : undefined,
      jwtClaims: claims,
      numTrustedProxies: this.options.numTrustedProxies ?? 1,
    });
    const context = this.context(req, decision.mtls, peerId, claims, requestPrincipal ?? decision.requestPrincipal, decision, tls);
    if (decision.connection === 'rejected') return { action: 'close', context, reason: decision.notes[decision.notes.length - 1] ?? 'rejected by PeerAuthentication' };
    if (decision.decision === 'DENY') return { action: 'reply', status: 403, body: RBAC_DENIED, headers: { 'content-type': 'text/plain' }, context, reason: 'rbac' };
    return { action: 'continue', context, deadlineMs: deadlineOf(headers) };
  }

  private context(req: InboundRequestLike, mtlsMode: MtlsMode, peerId: string | undefined, claims: Record<string, unknown> | undefined, requestPrincipal: string | null, d?: InboundDecision, tls = false): MeshworkContext {
    const ctx: MeshworkContext = {
      peerId,
      principal: peerId?.slice('spiffe://'.length),
      mtls: tls,
      mtlsMode,
      requestPrincipal,
      claims,
      decision: d?.decision ?? 'DENY',
      policy: d?.policy ? d.policy.id : null,
      rule: d?.rule ?? null,
      audit: d && d.audit.length > 0 ? d.audit.map((p) => p.id) : NO_NAMES,
      dryRun: d && d.dryRun.length > 0 ? d.dryRun.map((p) => p.id) : NO_NAMES,
    };
    setMeshwork(req, ctx);
    return ctx;
  }

  /** Tells the observer (telemetry) what happened; its errors stay here. */
  observe(req: InboundRequestLike, verdict: InboundVerdict): void {
    const hook = this.options.onDecision;
    if (!hook) return;
    try {
      hook({
        method: req.method ?? 'GET',
        path: req.url ?? '/',
        port: req.socket.localPort ?? 0,
        context: verdict.context,
        reply: verdict.action === 'reply' ? { status: verdict.status, reason: verdict.reason } : verdict.action === 'close' ? { status: 0, reason: 'connection' } : undefined,
      });
    } catch {
      /* a telemetry hook never breaks a request */
    }
  }

  close(): void {
    this.jwt.close();
    if (this.ownsMesh) this.mesh.close();
  }
}

/**
 * The caller's remaining budget, which the outbound data plane sends as Envoy does
 * (`x-envoy-expected-rq-timeout-ms`); calls this request makes are capped by it.
 */
function deadlineOf(headers: Record<string, string>): number | undefined {
  const v = headers['x-envoy-expected-rq-timeout-ms'];
  if (v === undefined) return undefined;
  const ms = Number(v);
  return Number.isFinite(ms) && ms > 0 ? ms : undefined;
}

const OPTION_KEYS = new Set(['inbound', 'mesh', 'numTrustedProxies', 'jwt', 'onDecision', 'identity', 'workload', 'configDir', 'configYaml', 'resources', 'registry', 'meshConfig', 'locality', 'retryBudget', 'watch', 'onConfigRejected', 'onConfigApplied', 'now', 'random']);

/**
 * Checks an adapter's options when it is set up, so a typo is a startup error that names the
 * valid options, not a silently ignored setting.
 */
export function assertInboundOptions(options: object, who: string): void {
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw new TypeError(`${who}: unknown option "${key}" (options: ${[...OPTION_KEYS].join(', ')}); see the ${who.startsWith('meshworkPlugin') ? '@meshwork/fastify' : '@meshwork/express'} README`);
  }
}

/** Makes the pipeline; pass the same `mesh` as the fetch data plane so both share one snapshot. */
export function createInbound(options: InboundOptions = {}): Inbound {
  return new Inbound(options);
}
