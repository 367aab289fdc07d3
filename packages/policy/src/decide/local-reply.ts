/**
 * Replies the mesh makes itself (no upstream answered), as Envoy writes them, and the gRPC
 * form they take for gRPC callers (reference §9): HTTP 200, trailers-only, `grpc-status`
 * mapped from the HTTP code unless the filter gives one, `grpc-message` = the body.
 * The data plane and the server pipeline both answer through this, so a denial reads the
 * same from fetch, gRPC, Express and Fastify.
 */

/** Envoy's local-reply bodies that callers and dashboards recognise. */
export const LOCAL_REPLY = {
  rbacDenied: 'RBAC: access denied',
  jwtFailed: 'Jwt verification fails',
  noHealthyUpstream: 'no healthy upstream',
  upstreamTimeout: 'upstream request timeout',
  faultAbort: 'fault filter abort',
  overflow: 'upstream connect error or disconnect/reset before headers. reset reason: overflow',
  connectionFailure: 'upstream connect error or disconnect/reset before headers. reset reason: connection failure',
  connectionTermination: 'upstream connect error or disconnect/reset before headers. reset reason: connection termination',
} as const;

/** gRPC status codes by name (the names `abort.grpcStatus` uses). */
export const GRPC_STATUS: Readonly<Record<string, number>> = Object.freeze({
  OK: 0, CANCELLED: 1, UNKNOWN: 2, INVALID_ARGUMENT: 3, DEADLINE_EXCEEDED: 4, NOT_FOUND: 5, ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7, RESOURCE_EXHAUSTED: 8, FAILED_PRECONDITION: 9, ABORTED: 10, OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12, INTERNAL: 13, UNAVAILABLE: 14, DATA_LOSS: 15, UNAUTHENTICATED: 16,
});

/** Envoy's HTTP -> gRPC status mapping (Grpc::Utility::httpToGrpcStatus). */
export function httpToGrpcStatus(httpStatus: number): number {
  switch (httpStatus) {
    case 400: return 13;
    case 401: return 16;
    case 403: return 7;
    case 404: return 12;
    case 429: case 502: case 503: case 504: return 14;
    default: return 2;
  }
}

export interface LocalReply {
  status: number;
  headers: Record<string, string | string[]>;
  body: string;
}

/** gRPC's percent-encoding of grpc-message: only bytes outside 0x20–0x7E and `%` itself. */
export function grpcPercentEncode(message: string): string {
  let out = '';
  for (const byte of Buffer.from(message, 'utf8')) {
    out += byte < 0x20 || byte > 0x7e || byte === 0x25 ? `%${byte.toString(16).toUpperCase().padStart(2, '0')}` : String.fromCharCode(byte);
  }
  return out;
}

/** True when the request is gRPC (`content-type: application/grpc...`). */
export function isGrpcRequest(contentType: string | undefined): boolean {
  return !!contentType && contentType.toLowerCase().startsWith('application/grpc');
}

/**
 * Builds a local reply. For gRPC callers: HTTP 200, `grpc-status` (the given gRPC status,
 * else mapped from the HTTP code) and `grpc-message`, empty body.
 */
export function localReply(httpStatus: number, body: string, opts: { grpc?: boolean; grpcStatus?: number | string; extraHeaders?: Record<string, string | string[]> | undefined } = {}): LocalReply {
  if (opts.grpc) {
    const code = typeof opts.grpcStatus === 'string' ? (GRPC_STATUS[opts.grpcStatus] ?? 2) : opts.grpcStatus ?? httpToGrpcStatus(httpStatus);
    return { status: 200, headers: { 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': grpcPercentEncode(body), ...opts.extraHeaders }, body: '' };
  }
  return { status: httpStatus, headers: body ? { 'content-type': 'text/plain', ...opts.extraHeaders } : { ...opts.extraHeaders }, body };
}
