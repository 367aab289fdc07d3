/**
 * The SDK's requests to the control service: node:http / node:https directly (never the
 * global fetch, which the application may have pointed at the mesh itself), the join token
 * as a bearer token, the control service's CA as the only trust, a timeout on every call.
 */
import http from 'node:http';
import https from 'node:https';

export interface ControlEndpoint {
  /** `https://host:port` (or `http://` for a local, plaintext control service). */
  url: URL;
  token: string;
  /** PEM roots that sign the control service's certificate (its CA's bundle). */
  ca?: string | string[] | undefined;
  timeoutMs: number;
}

export interface ControlReply {
  status: number;
  body: any;
  headers: http.IncomingHttpHeaders;
}

/** A request failed before any answer (refused, reset, timed out, bad certificate). */
export class ControlUnreachable extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ControlUnreachable';
  }
}

export function requestOptions(e: ControlEndpoint, method: string, path: string, headers: Record<string, string>): https.RequestOptions {
  const o: https.RequestOptions = {
    method,
    protocol: e.url.protocol,
    hostname: e.url.hostname.replace(/^\[|\]$/g, ''),
    port: e.url.port || (e.url.protocol === 'https:' ? 443 : 80),
    path,
    headers: { authorization: `Bearer ${e.token}`, ...headers },
    // One agent per request: the control channel is a few calls a minute plus one stream.
    agent: false,
  };
  if (e.url.protocol === 'https:' && e.ca !== undefined) o.ca = e.ca;
  return o;
}

export function transport(e: ControlEndpoint): typeof https | typeof http {
  return e.url.protocol === 'https:' ? https : http;
}

/** One JSON call. Rejects with ControlUnreachable when no answer came; resolves with any status. */
export function callControl(e: ControlEndpoint, method: string, path: string, body?: unknown): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const headers: Record<string, string> = { accept: 'application/json' };
    if (payload) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = String(payload.length);
    }
    const req = transport(e).request(requestOptions(e, method, path, headers), (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', (err) => reject(new ControlUnreachable(`${method} ${path}: ${err.message}`, { cause: err })));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let parsed: unknown = undefined;
        try {
          parsed = text ? JSON.parse(text) : undefined;
        } catch {
          parsed = { error: 'malformed', message: text.slice(0, 200) };
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, headers: res.headers });
      });
    });
    req.setTimeout(e.timeoutMs, () => req.destroy(new Error(`no answer within ${e.timeoutMs} ms`)));
    req.on('error', (err) => reject(new ControlUnreachable(`${method} ${e.url.origin}${path}: ${err.message}`, { cause: err })));
    req.end(payload);
  });
}

/** The API's error message of a reply (never the token: the API does not echo it). */
export function replyMessage(r: ControlReply): string {
  const m = r.body && typeof r.body === 'object' && typeof r.body.message === 'string' ? r.body.message : '';
  return `${r.status}${m ? ` ${m}` : ''}`;
}
