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
import { LOCAL_REPLY, decideInbound, isGrpcRequest, localReply, mtlsModeForPort, refusedConnection, type InboundDecision, type LocalReply, type MtlsMode, type Snapshot } from '@meshwork/policy';
import { MESH_OPTION_KEYS, Mesh, type MeshOptions } from '@meshwork/core';
import { peerSpiffeId } from '@meshwork/identity';
import { setMeshwork, type MeshworkContext } from './context.js';
import { JwtAuthenticator, type JwtAuthenticatorOptions, type JwtOutcome } from './jwt.js';

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
  | { action: 'reply'; status: number; body: string; headers: LocalReply['headers']; context: MeshworkContext; reason: 'jwt' | 'rbac' }
  | { action: 'close'; context: MeshworkContext; reason: string };

// Envoy's RBAC denial, built once (and its gRPC form: grpc-status 7, for gRPC callers).
const RBAC_DENIED = localReply(403, LOCAL_REPLY.rbacDenied);
const RBAC_DENIED_GRPC = localReply(403, LOCAL_REPLY.rbacDenied, { grpc: true });
const NO_NAMES: readonly string[] = Object.freeze([]);

/** What the connection says about the peer, read once per request from the socket. */
interface Peer {
  port: number;
  tls: boolean;
  peerId: string | undefined;
  principal: string | undefined;
  sni: string | undefined;
  mode: MtlsMode;
}

function peerOf(socket: Socket, snap: Snapshot): Peer {
  const port = socket.localPort ?? 0;
  const tls = (socket as TLSSocket).encrypted === true;
  const peerId = tls ? peerSpiffeId(socket as TLSSocket) : undefined;
  return {
    port,
    tls,
    peerId,
    principal: peerId?.slice('spiffe://'.length),
    sni: tls ? ((socket as TLSSocket).servername || undefined) : undefined,
    mode: mtlsModeForPort(snap.inbound.peerAuthentication, port),
  };
}

/** `::ffff:127.0.0.1` → `127.0.0.1` (authorization's ipBlocks are written for IPv4). */
function plainIp(ip: string | undefined): string | undefined {
  return ip !== undefined && ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

export class Inbound {
  readonly mesh: Mesh;
  private readonly ownsMesh: boolean;
  private readonly jwt: JwtAuthenticator;
  private readonly numTrustedProxies: number;
  private checkedSnapshot: Snapshot | undefined;
  private readonly warned = new Set<string>();

  constructor(readonly options: InboundOptions = {}) {
    this.ownsMesh = !options.mesh;
    this.mesh = options.mesh ?? new Mesh(options);
    this.jwt = new JwtAuthenticator(options.jwt);
    this.numTrustedProxies = options.numTrustedProxies ?? 1;
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
    // Compile the snapshot's JWT rules now, not on the first request that carries a token.
    this.jwt.prepare(snap.inbound.jwtRules);
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
   * Decides one request: PeerAuthentication first (a refused connection never reaches JWT),
   * then RequestAuthentication, then authorization, all on one snapshot. Synchronous when no
   * JWT rule applies (the common case costs no promise); a Promise when a token is checked.
   */
  evaluate(req: InboundRequestLike): InboundVerdict | Promise<InboundVerdict> {
    const snap = this.mesh.snapshot;
    if (snap !== this.checkedSnapshot) this.configChecks(snap);
    const peer = peerOf(req.socket, snap);
    const refusal = refusedConnection(peer.mode, peer.tls);
    if (refusal) return { action: 'close', context: this.context(req, peer, undefined, null), reason: refusal };
    const rules = snap.inbound.jwtRules;
    if (rules.length === 0) return this.authorize(req, snap, peer, undefined, null);
    const headers = req.headers as Record<string, string>;
    const outcome = this.jwt.authenticate(rules, { method: req.method ?? 'GET', target: req.url ?? '/', headers, scheme: peer.tls ? 'https' : 'http' });
    return outcome instanceof Promise ? outcome.then((o) => this.afterJwt(req, snap, peer, o)) : this.afterJwt(req, snap, peer, outcome);
  }

  private afterJwt(req: InboundRequestLike, snap: Snapshot, peer: Peer, outcome: JwtOutcome): InboundVerdict {
    if (outcome.kind === 'invalid') {
      const reply = localReply(outcome.status, outcome.body, { grpc: isGrpcRequest(req.headers['content-type'] as string | undefined), extraHeaders: { 'www-authenticate': outcome.headers['www-authenticate']! } });
      return { action: 'reply', ...reply, context: this.context(req, peer, undefined, null), reason: 'jwt' };
    }
    // Strip (and, for a verified token, set) the headers RequestAuthentication owns before the
    // app sees them: a client cannot fake outputPayloadToHeader even without a token.
    for (const name of outcome.headers.remove) delete req.headers[name];
    for (const [name, value] of outcome.headers.set) req.headers[name] = value;
    if (outcome.kind === 'none') return this.authorize(req, snap, peer, undefined, null);
    if (outcome.target !== req.url) req.url = outcome.target;
    return this.authorize(req, snap, peer, outcome.claims as Record<string, unknown>, outcome.requestPrincipal);
  }

  private authorize(req: InboundRequestLike, snap: Snapshot, peer: Peer, claims: Record<string, unknown> | undefined, requestPrincipal: string | null): InboundVerdict {
    const socket = req.socket;
    const headers = req.headers as Record<string, string>;
    const decision: InboundDecision = decideInbound(snap, {
      port: peer.port,
      // An mTLS connection without a SPIFFE ID still counts as TLS (an empty principal matches no rule).
      principal: peer.tls ? (peer.principal ?? '') : undefined,
      sourceIp: plainIp(socket.remoteAddress),
      destinationIp: plainIp(socket.localAddress),
      method: req.method ?? 'GET',
      target: req.url ?? '/',
      headers,
      sni: peer.sni,
      jwtClaims: claims,
      numTrustedProxies: this.numTrustedProxies,
    });
    const context = this.context(req, peer, claims, requestPrincipal ?? decision.requestPrincipal, decision);
    if (decision.decision === 'DENY') return { action: 'reply', ...(isGrpcRequest(headers['content-type']) ? RBAC_DENIED_GRPC : RBAC_DENIED), context, reason: 'rbac' };
    if (peer.tls) appendForwardedClientCert(req, socket as TLSSocket);
    return { action: 'continue', context, deadlineMs: deadlineOf(headers) };
  }

  private context(req: InboundRequestLike, peer: Peer, claims: Record<string, unknown> | undefined, requestPrincipal: string | null, d?: InboundDecision): MeshworkContext {
    const ctx: MeshworkContext = {
      peerId: peer.peerId,
      principal: peer.principal,
      mtls: peer.tls,
      mtlsMode: peer.mode,
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

const XFCC = 'x-forwarded-client-cert';
const xfccBySocket = new WeakMap<TLSSocket, string>();

/** RFC 4514-style subject as Envoy prints it (`CN=a,O=b`), from Node's one-attribute-per-line form. */
function subjectOf(subject: string | undefined): string {
  return (subject ?? '').split('\n').filter(Boolean).reverse().join(',');
}

/**
 * The element an Istio sidecar's inbound listener adds to `x-forwarded-client-cert` for an
 * mTLS connection (Envoy APPEND_FORWARD with Subject, URI and DNS, as Istio configures
 * sidecars: listener_inbound.go): `By=<our SPIFFE ID>;Hash=<sha256 of the client
 * certificate>;Subject="<its subject>";URI=<its SPIFFE ID>[;DNS=<its DNS names>]`, appended to
 * what the caller sent. Computed once per connection.
 */
function appendForwardedClientCert(req: InboundRequestLike, socket: TLSSocket): void {
  let element = xfccBySocket.get(socket);
  if (element === undefined) {
    const peerCert = socket.getPeerX509Certificate?.();
    if (!peerCert) return;
    const sans = (s: string | undefined, kind: string) => (s ?? '').split(', ').filter((x) => x.startsWith(`${kind}:`)).map((x) => x.slice(kind.length + 1));
    const by = sans(socket.getX509Certificate?.()?.subjectAltName, 'URI')[0];
    const parts = [
      ...(by ? [`By=${by}`] : []),
      `Hash=${peerCert.fingerprint256.replace(/:/g, '').toLowerCase()}`,
      `Subject="${subjectOf(peerCert.subject).replace(/"/g, '\\"')}"`,
      ...sans(peerCert.subjectAltName, 'URI').map((u) => `URI=${u}`),
      ...sans(peerCert.subjectAltName, 'DNS').map((d) => `DNS=${d}`),
    ];
    element = parts.join(';');
    xfccBySocket.set(socket, element);
  }
  const before = req.headers[XFCC];
  const value = before === undefined ? element : `${Array.isArray(before) ? before.join(',') : before},${element}`;
  req.headers[XFCC] = value;
  // node:http's raw list too (frameworks and proxies read it).
  const raw = (req as { rawHeaders?: string[] }).rawHeaders;
  if (Array.isArray(raw)) {
    // Only a caller that sent the header has entries to replace (the scan lower-cases every
    // name: not worth doing on each request of every mTLS connection for nothing).
    if (before !== undefined) for (let i = raw.length - 2; i >= 0; i -= 2) if (raw[i]!.toLowerCase() === XFCC) raw.splice(i, 2);
    raw.push(XFCC, value);
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

// The pipeline's own options on top of the Mesh's; the compiler keeps this list complete.
const INBOUND_OWN_KEYS: Readonly<Record<Exclude<keyof InboundOptions, keyof MeshOptions>, true>> = { mesh: true, numTrustedProxies: true, jwt: true, onDecision: true };
const OPTION_KEYS = new Set(['inbound', ...Object.keys(INBOUND_OWN_KEYS), ...Object.keys(MESH_OPTION_KEYS)]);

/**
 * Checks an adapter's options when it is set up, so a typo is a startup error that names the
 * valid options and the adapter's README, not a silently ignored setting.
 */
export function assertInboundOptions(options: object, who: string, readme: string): void {
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.has(key)) throw new TypeError(`${who}: unknown option "${key}" (options: ${[...OPTION_KEYS].join(', ')}); see the ${readme} README`);
  }
}

/** Makes the pipeline; pass the same `mesh` as the fetch data plane so both share one snapshot. */
export function createInbound(options: InboundOptions = {}): Inbound {
  return new Inbound(options);
}
