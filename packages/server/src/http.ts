/**
 * The pipeline run for one request, for every adapter: evaluate, then answer locally (401,
 * 403, or 500 when the pipeline itself fails), close the connection (a refused peer), or go on
 * inside the caller's deadline. node:http, Express and Fastify differ only in how they go on
 * and how they write a reply, which they pass in; no closure is made per request for them.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { withDeadline } from '@meshwork/core';
import type { LocalReply } from '@meshwork/policy';
import type { Inbound, InboundVerdict } from './inbound.js';

/** Writes a local reply through the adapter's own response object. */
export type ReplyWriter<A> = (target: A, status: number, headers: LocalReply['headers'], body: string) => void;

const PIPELINE_FAILED = 'meshwork: inbound pipeline failed';

/**
 * Runs the pipeline; calls `proceed(a, b)` when the request may go on. Never throws: an
 * unexpected failure inside the pipeline answers 500 and leaves the process alone.
 */
export function runPipeline<A, B>(inbound: Inbound, req: IncomingMessage, a: A, b: B, proceed: (a: A, b: B) => void, reply: ReplyWriter<A>): void {
  let verdict: InboundVerdict | Promise<InboundVerdict>;
  try {
    verdict = inbound.evaluate(req);
  } catch {
    return failed(a, reply);
  }
  if (verdict instanceof Promise) {
    verdict.then((v) => settle(inbound, req, v, a, b, proceed, reply), () => failed(a, reply));
  } else {
    settle(inbound, req, verdict, a, b, proceed, reply);
  }
}

function settle<A, B>(inbound: Inbound, req: IncomingMessage, v: InboundVerdict, a: A, b: B, proceed: (a: A, b: B) => void, reply: ReplyWriter<A>): void {
  inbound.observe(req, v);
  switch (v.action) {
    case 'continue':
      if (v.deadlineMs !== undefined) withDeadline(v.deadlineMs, () => proceed(a, b));
      else proceed(a, b);
      return;
    case 'reply':
      reply(a, v.status, v.headers, v.body);
      return;
    case 'close':
      // As Envoy's filter chain does for a refused peer (plaintext on STRICT): no HTTP answer.
      req.socket.destroy();
      return;
  }
}

function failed<A>(a: A, reply: ReplyWriter<A>): void {
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
  runPipeline(inbound, req, res, handler, callHandler, writeNodeReply);
}
