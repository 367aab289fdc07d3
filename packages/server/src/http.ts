/**
 * The pipeline on node:http's request/response: answer locally (401, 403), close the
 * connection (plaintext to a STRICT port), or run the handler inside the caller's deadline.
 * Express and Fastify reuse this; only the way they continue differs.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { withDeadline } from '@meshwork/core';
import type { Inbound, InboundVerdict } from './inbound.js';

/**
 * Runs the pipeline for one request; calls `next` when the handler may run. Never throws:
 * an unexpected failure inside the pipeline answers 500 and leaves the process alone.
 */
export function runInbound(inbound: Inbound, req: IncomingMessage, res: ServerResponse, next: () => void): void {
  let verdict: InboundVerdict | Promise<InboundVerdict>;
  try {
    verdict = inbound.evaluate(req);
  } catch (err) {
    return internalError(res, err);
  }
  if (verdict instanceof Promise) {
    verdict.then((v) => finish(inbound, req, res, v, next), (err: unknown) => internalError(res, err));
  } else {
    finish(inbound, req, res, verdict, next);
  }
}

function finish(inbound: Inbound, req: IncomingMessage, res: ServerResponse, v: InboundVerdict, next: () => void): void {
  inbound.observe(req, v);
  switch (v.action) {
    case 'continue':
      if (v.deadlineMs !== undefined) withDeadline(v.deadlineMs, next);
      else next();
      return;
    case 'reply':
      if (res.headersSent) return;
      res.writeHead(v.status, { ...v.headers, 'content-length': Buffer.byteLength(v.body) });
      res.end(v.body);
      return;
    case 'close':
      // As Envoy's filter chain does for a plaintext peer on a STRICT port: no HTTP answer at all.
      req.socket.destroy();
      return;
  }
}

function internalError(res: ServerResponse, _err: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const body = 'meshwork: inbound pipeline failed';
  res.writeHead(500, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
