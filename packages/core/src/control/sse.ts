/**
 * One server-sent-events stream from the control service, parsed by eventsource-parser (a
 * small, well-kept parser of the WHATWG format; the browser's EventSource is not in Node
 * and cannot carry a bearer token or a private CA). Reconnection is the caller's: it decides
 * the backoff and the Last-Event-ID.
 */
import { createParser } from 'eventsource-parser';
import { requestOptions, transport, type ControlEndpoint } from './http.js';

export interface SseHandlers {
  /** The stream is open (200, text/event-stream). */
  onOpen(): void;
  onEvent(event: string, data: string, id: string | undefined): void;
  /** The stream ended or failed; `status` when the server answered with something else than a stream. */
  onClose(error: Error | undefined, status?: number, body?: string): void;
}

export interface SseStream {
  close(): void;
}

/** A snapshot is at most a few MB; anything larger is a broken stream. */
const MAX_EVENT_BYTES = 64 * 1024 * 1024;

export function openSse(e: ControlEndpoint, path: string, lastEventId: string | undefined, idleTimeoutMs: number, h: SseHandlers, extraHeaders: Record<string, string> = {}): SseStream {
  let done = false;
  const finish = (err: Error | undefined, status?: number, body?: string): void => {
    if (done) return;
    done = true;
    h.onClose(err, status, body);
  };
  const headers: Record<string, string> = { accept: 'text/event-stream', ...extraHeaders };
  if (lastEventId) headers['last-event-id'] = lastEventId;
  const req = transport(e).request(requestOptions(e, 'GET', path, headers), (res) => {
    const type = String(res.headers['content-type'] ?? '');
    if (res.statusCode !== 200 || !type.startsWith('text/event-stream')) {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => { if (chunks.length < 16) chunks.push(c); });
      res.on('end', () => finish(undefined, res.statusCode, Buffer.concat(chunks).toString('utf8').slice(0, 2000)));
      res.on('error', (err) => finish(err, res.statusCode));
      return;
    }
    // Any bytes (events or heartbeat comments) prove the stream alive; silence past the
    // idle timeout means a dead peer that TCP has not noticed yet.
    req.setTimeout(idleTimeoutMs, () => req.destroy(new Error(`no heartbeat within ${idleTimeoutMs} ms`)));
    const parser = createParser({
      maxBufferSize: MAX_EVENT_BYTES,
      onEvent: (m) => {
        if (!done) h.onEvent(m.event ?? 'message', m.data, m.id);
      },
      onError: (err) => req.destroy(err),
    });
    res.setEncoding('utf8');
    res.on('data', (chunk: string) => parser.feed(chunk));
    res.on('end', () => finish(new Error('the control service closed the watch stream')));
    res.on('error', (err) => finish(err));
    h.onOpen();
  });
  req.setTimeout(idleTimeoutMs, () => req.destroy(new Error(`no answer within ${idleTimeoutMs} ms`)));
  req.on('error', (err) => finish(err));
  req.on('close', () => finish(new Error('the watch stream closed')));
  req.end();
  return {
    close() {
      done = true;
      req.destroy();
    },
  };
}
