/**
 * The caller's handler, whichever undici handler API it speaks. undici 8 and the npm
 * package use the v2 callbacks (onRequestStart, onResponseStart, ...); Node's bundled undici
 * (fetch in Node 22/24) may hand a dispatcher passed as `{ dispatcher }` the legacy ones
 * (onConnect, onHeaders, ...). Everything below talks v2; this adapts legacy handlers once.
 */
import type { Dispatcher } from 'undici';

export type Handler = Dispatcher.DispatchHandler;
export type Controller = Dispatcher.DispatchController;

interface LegacyHandler {
  onConnect?(abort: (err?: Error) => void, context?: unknown): void;
  onHeaders?(status: number, rawHeaders: Buffer[], resume: () => void, statusText?: string): boolean | void;
  onData?(chunk: Buffer): boolean | void;
  onComplete?(rawTrailers: Buffer[] | null): void;
  onError?(err: Error): void;
}

function rawHeaders(headers: Record<string, string | string[] | undefined>): Buffer[] {
  const out: Buffer[] = [];
  for (const [k, v] of Object.entries(headers)) {
    if (v === undefined) continue;
    for (const x of Array.isArray(v) ? v : [v]) out.push(Buffer.from(k), Buffer.from(String(x)));
  }
  return out;
}

export function toV2(handler: Handler | LegacyHandler): Handler {
  const h = handler as Handler & LegacyHandler;
  if (typeof h.onResponseStart === 'function' || typeof h.onRequestStart === 'function') return h;
  return {
    onRequestStart(controller, context) {
      h.onConnect?.((err) => controller.abort(err ?? new Error('aborted')), context);
    },
    onResponseStart(controller, status, headers, statusText) {
      const r = h.onHeaders?.(status, rawHeaders(headers as Record<string, string | string[]>), () => controller.resume(), statusText);
      if (r === false) controller.pause();
    },
    onResponseData(controller, chunk) {
      if (h.onData?.(chunk) === false) controller.pause();
    },
    onResponseEnd(_controller, trailers) {
      h.onComplete?.(rawHeaders((trailers ?? {}) as Record<string, string | string[]>));
    },
    onResponseError(_controller, err) {
      h.onError?.(err);
    },
  };
}
