/**
 * The pipeline run for one request, for every adapter: telemetry starts (peer metadata taken
 * out, server span, request id), evaluate, then answer locally (401, 403, or 500 when the
 * pipeline itself fails), close the connection (a refused peer), or go on inside the caller's
 * deadline and trace context; telemetry records the request when its response closes.
 * node:http, Express and Fastify differ only in how they go on and how they write a reply,
 * which they pass in; no closure is made per request for them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { withDeadline } from '@meshwork/core';
import type { LocalReply } from '@meshwork/policy';
import { runInContext } from '@meshwork/telemetry';
import type { Inbound, InboundVerdict } from './inbound.js';
import { inboundRecord, jwtDetails, rbacDetails, startInbound } from './telemetry.js';

/** Writes a local reply through the adapter's own response object. */
export type ReplyWriter<A> = (target: A, status: number, headers: LocalReply['headers'], body: string) => void;

const PIPELINE_FAILED = 'meshwork: inbound pipeline failed';

/**
 * Runs the pipeline; calls `proceed(a, b)` when the request may go on. Never throws: an
 * unexpected failure inside the pipeline answers 500 and leaves the process alone. `res` is
 * the node:http response under the adapter's own (`a`), for telemetry.
 */
export function runPipeline<A, B>(inbound: Inbound, req: IncomingMessage, res: ServerResponse, a: A, b: B, proceed: (a: A, b: B) => void, reply: ReplyWriter<A>): void {
  const t = inbound.mesh.telemetry;
  if (t) {
    try {
      startInbound(t, req, res);
    } catch {
      /* telemetry never breaks a request */
    }
  }
  let verdict: InboundVerdict | Promise<InboundVerdict>;
  try {
    verdict = inbound.evaluate(req);
  } catch {
    return failed(res, a, reply);
  }
  if (verdict instanceof Promise) {
    verdict.then((v) => settle(inbound, req, res, v, a, b, proceed, reply), () => failed(res, a, reply));
  } else {
    settle(inbound, req, res, verdict, a, b, proceed, reply);
  }
}

function go<A, B>(deadlineMs: number | undefined, a: A, b: B, proceed: (a: A, b: B) => void): void {
  if (deadlineMs !== undefined) withDeadline(deadlineMs, () => proceed(a, b));
  else proceed(a, b);
}

function settle<A, B>(inbound: Inbound, req: IncomingMessage, res: ServerResponse, v: InboundVerdict, a: A, b: B, proceed: (a: A, b: B) => void, reply: ReplyWriter<A>): void {
  inbound.observe(req, v);
  const rec = inbound.mesh.telemetry ? inboundRecord(res) : undefined;
  switch (v.action) {
    case 'continue':
      // The handler runs in the server span's context: its outbound calls become children.
      if (rec?.span) runInContext(rec.span.context, go, v.deadlineMs, a, b, proceed);
      else go(v.deadlineMs, a, b, proceed);
      return;
    case 'reply':
      if (rec) rec.details = v.reason === 'rbac' ? rbacDetails(v.context) : jwtDetails(v.body);
      reply(a, v.status, v.headers, v.body);
      return;
    case 'close':
      // As Envoy's filter chain does for a refused peer (plaintext on STRICT): no HTTP answer,
      // and no request to report.
      if (rec) rec.skip = true;
      req.socket.destroy();
      return;
  }
}

function failed<A>(res: ServerResponse, a: A, reply: ReplyWriter<A>): void {
  const rec = inboundRecord(res);
  if (rec) rec.details = 'meshwork_pipeline_failed';
  try {
    reply(a, 500, { 'content-type': 'text/plain' }, PIPELINE_FAILED);
  } catch {
    /* the response is already gone */
  }
}

/** node:http's way to write a reply (Express uses it too). */
export const writeNodeReply: ReplyWriter<ServerResponse> = (res, status, headers, body) => {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
  res.end(body);
};

const callHandler = (res: ServerResponse, handler: (req: IncomingMessage, res: ServerResponse) => void): void => handler(res.req, res);

/** The pipeline on node:http's request/response, then `handler(req, res)`. */
export function runInbound(inbound: Inbound, req: IncomingMessage, res: ServerResponse, handler: (req: IncomingMessage, res: ServerResponse) => void): void {
  runPipeline(inbound, req, res, res, handler, callHandler, writeNodeReply);
}
