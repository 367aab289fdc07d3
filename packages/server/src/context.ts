/**
 * What the inbound pipeline learned about a request, for the handler: who called (mTLS peer,
 * JWT), and what authorization decided. One object per request, reachable from the request
 * through `meshworkOf(req)` in any framework (and as `req.meshwork` / `request.meshwork` in
 * the Express and Fastify adapters).
 */
import type { MtlsMode } from '@meshwork/policy';

export interface MeshworkContext {
  /** The peer's SPIFFE ID (`spiffe://cluster.local/ns/default/sa/sleep`) when it came over mTLS. */
  peerId: string | undefined;
  /** The same without `spiffe://`: what AuthorizationPolicy `principals` match. */
  principal: string | undefined;
  /** Whether the connection was mutual TLS. */
  mtls: boolean;
  /** The PeerAuthentication mode in force on this port. */
  mtlsMode: MtlsMode;
  /** `iss/sub` of a verified JWT, else null. */
  requestPrincipal: string | null;
  /** Claims of the verified JWT. */
  claims: Readonly<Record<string, unknown>> | undefined;
  /** Authorization's answer, and the policy (`ns/name`) and rule index that decided (null = default). */
  decision: 'ALLOW' | 'DENY';
  policy: string | null;
  rule: number | null;
  /** AUDIT policies that matched, and dry-run policies whose enforcement would change the decision. */
  audit: readonly string[];
  dryRun: readonly string[];
}

// A symbol-keyed property, not a WeakMap: set once per request on the hot path, and a property
// store costs a fraction of a WeakMap insert (measured in bench/security-authz.mjs).
const kMeshwork = Symbol.for('@meshwork/server.context');

/** The pipeline's result for a request (node:http IncomingMessage, Express or Fastify raw request). */
export function meshworkOf(req: object): MeshworkContext | undefined {
  return (req as { [kMeshwork]?: MeshworkContext })[kMeshwork];
}

export function setMeshwork(req: object, ctx: MeshworkContext): void {
  (req as { [kMeshwork]?: MeshworkContext })[kMeshwork] = ctx;
}
