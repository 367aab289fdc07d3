// The watchers of the control benchmark: many SSE clients in this one process, each watching a
// registered workload (`GET /v1/workloads/{id}:watch` over HTTPS, the control CA as the only
// trust, the workload's join token). Each is one TLS connection (as the SDK opens its stream:
// no agent, no reuse) speaking HTTP/1.1 itself: the response head, the chunked body and the
// event stream are framed by a few lines here and never copied, and only the first bytes of
// an event's data are read (the snapshot's revision). What is timed is when an event's last
// byte is read; this process handles 1,000 streams on one core, so it is kept lean to stay far
// from being what the pushes wait for (its CPU per round is reported). Driven over IPC:
//   ← { type: 'start', url, ca, adminToken, watchers: [{ id, token }], concurrency }
//   → { type: 'connected', ms, failed, firstEventBytes }
//   ← { type: 'round', round, body, timeoutMs }
//   → { type: 'round', applyMs, revision, latencies, missing, bytes, clientCpuMs, errors }
//   ← { type: 'close' }
import https from 'node:https';
import { isIP } from 'node:net';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';

const HEAD = 256;
const NL = 10;

/** A snapshot event, plain or compressed (the SDK asks for `snapshot-deflate`; so do these watchers). */
const isSnapshot = (e) => e.name === 'snapshot' || e.name === 'snapshot-deflate';

/** One watch stream: HTTP/1.1 response head, chunked transfer coding, then events line by line. */
class Watch {
  constructor(id, token) {
    this.id = id;
    this.token = token;
    this.events = []; // { at, name, revision, bytes } since the last reset
    this.head = ''; // the response head until its blank line
    this.inBody = false;
    this.chunk = 'size'; // 'size' | 'data' | 'crlf'
    this.sizeLine = '';
    this.remaining = 0;
    this.line = ''; // the first HEAD characters of the current line
    this.lineLen = 0;
    this.eventBytes = 0;
    this.dataHead = '';
    this.eventName = '';
    this.closed = false;
    this.error = undefined;
    this.onEvent = undefined;
  }

  open(o) {
    const u = new URL(o.url);
    return new Promise((resolve, reject) => {
      const fail = (err) => {
        this.closed = true;
        this.error ??= err.message;
        reject(err);
      };
      this.onEvent = (e) => {
        if (isSnapshot(e) && !this.first) {
          this.first = e;
          resolve();
        }
      };
      const socket = tls.connect({ host: u.hostname, port: Number(u.port), ca: o.ca, servername: isIP(u.hostname) ? undefined : u.hostname });
      this.socket = socket;
      socket.once('secureConnect', () => {
        socket.write(`GET /v1/workloads/${encodeURIComponent(this.id)}:watch HTTP/1.1\r\nhost: ${u.host}\r\nauthorization: Bearer ${this.token}\r\naccept: text/event-stream\r\nx-meshwork-snapshot-encoding: deflate\r\n\r\n`);
      });
      socket.on('data', (buf) => {
        if (this.inBody) return this.dechunk(buf);
        this.head += buf.toString('latin1');
        const end = this.head.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = this.head.slice(0, end);
        const rest = Buffer.from(this.head.slice(end + 4), 'latin1');
        this.head = '';
        if (!/^HTTP\/1\.1 200 /.test(head) || !/\r\ntransfer-encoding: chunked/i.test(head)) {
          socket.destroy();
          fail(new Error(`watch ${this.id}: ${head.split('\r\n')[0]} ${rest.toString('utf8', 0, 200)}`));
          return;
        }
        this.inBody = true;
        this.dechunk(rest);
      });
      socket.on('error', fail);
      socket.on('close', () => {
        this.closed = true;
        if (!this.first) fail(new Error(`watch ${this.id}: closed before the first snapshot`));
      });
    });
  }

  /** Chunked transfer coding: sizes in hex, each chunk's data handed to the event framing in place. */
  dechunk(buf) {
    let i = 0;
    while (i < buf.length) {
      if (this.chunk === 'data') {
        const n = Math.min(this.remaining, buf.length - i);
        this.feed(buf, i, i + n);
        i += n;
        this.remaining -= n;
        if (this.remaining === 0) this.chunk = 'crlf';
      } else if (this.chunk === 'crlf') {
        if (buf[i++] === NL) this.chunk = 'size';
      } else {
        const nl = buf.indexOf(NL, i);
        const end = nl === -1 ? buf.length : nl;
        this.sizeLine += buf.toString('latin1', i, end);
        i = end;
        if (nl === -1) return;
        i++;
        this.remaining = parseInt(this.sizeLine, 16);
        this.sizeLine = '';
        if (this.remaining === 0) return; // the last chunk: the stream ended
        this.chunk = 'data';
      }
    }
  }

  /** Event framing over buf[start, end): lines, a blank line ends an event. */
  feed(buf, start, stop) {
    let pos = start;
    for (;;) {
      const i = buf.indexOf(NL, pos);
      const end = i === -1 || i >= stop ? stop : i;
      if (this.line.length < HEAD && end > pos) this.line += buf.toString('latin1', pos, Math.min(end, pos + HEAD - this.line.length));
      this.lineLen += end - pos;
      this.eventBytes += end - pos;
      if (end === stop) return;
      this.eventBytes++;
      this.endLine();
      pos = end + 1;
    }
  }

  endLine() {
    const line = this.line;
    const empty = this.lineLen === 0;
    this.line = '';
    this.lineLen = 0;
    if (empty) {
      if (this.eventName !== '' || this.dataHead !== '') {
        const m = /"revision":(\d+)/.exec(this.dataHead);
        const e = { at: performance.now(), name: this.eventName || 'message', revision: m ? Number(m[1]) : -1, bytes: this.eventBytes };
        this.events.push(e);
        this.onEvent?.(e);
      }
      this.eventName = '';
      this.dataHead = '';
      this.eventBytes = 0;
      return;
    }
    if (line.startsWith('event: ')) this.eventName = line.slice(7);
    else if (line.startsWith('data: ')) this.dataHead = line.slice(6);
  }
}

function apply(o, body) {
  return new Promise((resolve, reject) => {
    const u = new URL('/v1/resources:apply', o.url);
    const req = https.request(u, {
      method: 'POST', ca: o.ca, agent: false,
      headers: { authorization: `Bearer ${o.adminToken}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (c) => { text += c; }).on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`apply: ${res.statusCode} ${text.slice(0, 300)}`));
        else resolve(JSON.parse(text));
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

let config;
let watches = [];

async function start(m) {
  config = m;
  const t0 = performance.now();
  watches = m.watchers.map((w) => new Watch(w.id, w.token));
  let next = 0;
  let failed = 0;
  let firstError;
  // A bounded number of TLS handshakes at once, as a fleet starting over a few seconds would.
  await Promise.all(Array.from({ length: m.concurrency }, async () => {
    while (next < watches.length) {
      const w = watches[next++];
      try {
        await w.open(m);
      } catch (e) {
        failed++;
        firstError ??= e.message;
      }
    }
  }));
  const sizes = watches.filter((w) => w.first).map((w) => w.first.bytes);
  process.send({ type: 'connected', ms: performance.now() - t0, failed, firstError, firstEventBytes: { min: Math.min(...sizes), max: Math.max(...sizes), total: sizes.reduce((a, b) => a + b, 0) } });
}

async function round(m) {
  for (const w of watches) w.events = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  const reply = await apply(config, m.body);
  const applyMs = performance.now() - t0;
  const revision = reply.revision;
  const arrival = (w) => w.events.find((e) => isSnapshot(e) && e.revision >= revision);
  const deadline = t0 + m.timeoutMs;
  while (performance.now() < deadline && !watches.every((w) => w.closed || arrival(w))) await new Promise((r) => setTimeout(r, 5));
  const clientCpu = process.cpuUsage(cpu0);
  const latencies = [];
  let missing = 0;
  let bytes = 0;
  for (const w of watches) {
    const e = arrival(w);
    if (e) {
      latencies.push(e.at - t0);
      bytes += e.bytes;
    } else missing++;
  }
  const closed = watches.filter((w) => w.closed).length;
  process.send({ type: 'round', round: m.round, applyMs, revision, latencies, missing, closed, bytes, clientCpuMs: (clientCpu.user + clientCpu.system) / 1000 });
}

process.on('message', (m) => {
  const run = m.type === 'start' ? start(m) : m.type === 'round' ? round(m) : undefined;
  if (m.type === 'close') {
    for (const w of watches) w.socket?.destroy();
    process.exit(0);
  }
  run?.catch((e) => {
    process.send({ type: 'error', error: e.stack ?? String(e) });
  });
});
process.on('disconnect', () => process.exit(0));
