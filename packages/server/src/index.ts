/**
 * @meshwork/server: the inbound side of the mesh, framework-neutral. One port for mTLS and
 * plaintext (PeerAuthentication), the peer's SPIFFE identity, RequestAuthentication (JWT)
 * and AuthorizationPolicy, from the same Istio YAML as the client side.
 */
export { meshworkOf, setMeshwork, type MeshworkContext } from './context.js';
export { Inbound, assertInboundOptions, createInbound, type InboundOptions, type InboundEvent, type InboundRequestLike, type InboundVerdict } from './inbound.js';
export { runInbound, runPipeline, writeNodeReply, type ReplyWriter } from './http.js';
export { MeshListener, MeshServer, createMeshServer, type MeshListenerOptions, type MeshServerOptions } from './listener.js';
export { JwtAuthenticator, type JwtAuthenticatorOptions } from './jwt.js';
export { MeshIncomingMessage, beginInbound, jwtDetails, rbacDetails, recordInboundOn, type InboundBegin } from './telemetry.js';
