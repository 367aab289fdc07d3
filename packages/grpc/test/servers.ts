/**
 * Real grpc-js servers on 127.0.0.1 port 0 for the tests, and the mesh configuration that
 * names them. A request's text steers the server: `fail:<code>` answers that status
 * (trailers-only), `sleep:<ms>` waits first, `count:<n>` streams n messages.
 */
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const PROTO = fileURLToPath(new URL('./fixtures/echo.proto', import.meta.url));
const definition = protoLoader.loadSync(PROTO, { keepCase: true, longs: String, defaults: true });
const loaded = grpc.loadPackageDefinition(definition) as unknown as { meshwork: { test: { Echo: grpc.ServiceClientConstructor } } };
export const EchoClient = loaded.meshwork.test.Echo;
export type EchoService = grpc.ServiceClient;

export interface Msg {
  text: string;
  server?: string;
  metadata?: Record<string, string>;
  authority?: string;
}

export interface TestServer {
  name: string;
  port: number;
  /** Calls this server received, by method name. */
  calls: Map<string, number>;
  /** Metadata of every call received, with the call's authority as `:authority`. */
  seen: Record<string, string>[];
  server: grpc.Server;
  stop(): Promise<void>;
  kill(): void;
}

function textMetadata(md: grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(md.getMap())) if (typeof v === 'string') out[k] = v;
  return out;
}

async function steer(text: string): Promise<grpc.ServiceError | null> {
  const sleep = /(?:^|;)sleep:(\d+)/.exec(text);
  if (sleep) await new Promise((r) => setTimeout(r, Number(sleep[1])));
  const fail = /(?:^|;)fail:(\d+)/.exec(text);
  if (fail) return Object.assign(new Error(`told to fail with ${fail[1]}`), { code: Number(fail[1]), details: `told to fail with ${fail[1]}`, metadata: new grpc.Metadata() }) as grpc.ServiceError;
  return null;
}

export async function startServer(name: string, opts: { failAll?: number; delayMs?: number } = {}): Promise<TestServer> {
  const calls = new Map<string, number>();
  const seen: Record<string, string>[] = [];
  const note = (method: string, call: { metadata: grpc.Metadata; getHost(): string }) => {
    calls.set(method, (calls.get(method) ?? 0) + 1);
    seen.push({ ...textMetadata(call.metadata), ':authority': call.getHost() });
  };
  const reply = (call: { metadata: grpc.Metadata; getHost(): string }, text: string): Msg => ({ text, server: name, metadata: textMetadata(call.metadata), authority: call.getHost() });
  const server = new grpc.Server();
  server.addService(EchoClient.service, {
    Say: (call: grpc.ServerUnaryCall<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      note('Say', call);
      if (opts.failAll !== undefined) return cb({ code: opts.failAll, details: `${name} always fails` } as grpc.ServiceError);
      const answer = () => steer(call.request.text).then((err) => (err ? cb(err) : cb(null, reply(call, call.request.text))));
      if (opts.delayMs) setTimeout(answer, opts.delayMs);
      else void answer();
    },
    Watch: (call: grpc.ServerWritableStream<Msg, Msg>) => {
      note('Watch', call);
      if (opts.failAll !== undefined) return void call.emit('error', { code: opts.failAll, details: `${name} always fails` });
      steer(call.request.text).then((err) => {
        if (err) return call.emit('error', err);
        const n = Number(/count:(\d+)/.exec(call.request.text)?.[1] ?? 3);
        for (let i = 0; i < n; i++) call.write(reply(call, `${call.request.text}#${i}`));
        call.end();
      });
    },
    Collect: (call: grpc.ServerReadableStream<Msg, Msg>, cb: grpc.sendUnaryData<Msg>) => {
      note('Collect', call);
      const texts: string[] = [];
      call.on('data', (m: Msg) => texts.push(m.text));
      call.on('end', () => {
        steer(texts.join(';')).then((err) => (err ? cb(err) : cb(null, reply(call, texts.join('+')))));
      });
    },
    Chat: (call: grpc.ServerDuplexStream<Msg, Msg>) => {
      note('Chat', call);
      call.on('data', (m: Msg) => call.write(reply(call, `re:${m.text}`)));
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return {
    name, port, calls, seen, server,
    stop: () => new Promise<void>((r) => server.tryShutdown(() => r())),
    kill: () => server.forceShutdown(),
  };
}

/** A Service `echo` (port 9090, name grpc) with one WorkloadEntry per server, labelled version=<name>. */
export function echoYaml(servers: readonly TestServer[], extra = ''): string {
  return `apiVersion: v1
kind: Service
metadata: {name: echo, namespace: default}
spec:
  selector: {app: echo}
  ports: [{name: grpc, port: 9090}]
${servers.map((s) => `---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: echo-${s.name}, namespace: default}
spec:
  address: 127.0.0.1
  ports: {grpc: ${s.port}}
  labels: {app: echo, version: ${s.name}}
`).join('')}${extra ? `---\n${extra}` : ''}`;
}

/** A unary call as a promise: the reply, or the error with its code. */
export function say(client: EchoService, text: string, opts: { metadata?: Record<string, string>; deadlineMs?: number } = {}): Promise<Msg> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(opts.metadata ?? {})) md.set(k, v);
  const callOpts: grpc.CallOptions = opts.deadlineMs ? { deadline: Date.now() + opts.deadlineMs } : {};
  return new Promise((resolve, reject) => {
    (client as unknown as { Say: (m: Msg, md: grpc.Metadata, o: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: Msg) => void) => void }).Say({ text }, md, callOpts, (e, r) => (e ? reject(e) : resolve(r)));
  });
}

/** The gRPC code a promise ends with (0 for success). */
export async function codeOf(p: Promise<unknown>): Promise<number> {
  try {
    await p;
    return 0;
  } catch (e) {
    return (e as grpc.ServiceError).code ?? -1;
  }
}
