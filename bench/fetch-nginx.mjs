// nginx and certificates for the HTTP client benchmark (fetch.mjs): the upstream app, and the
// two proxies of the sidecar model (client sidecar -> server sidecar, plaintext or mutual TLS
// between them). Every process is the bench's own, started from configs written to a temp dir,
// listening on 127.0.0.1 only; the system nginx service is never touched.
import { execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import http from 'node:http';
import { join } from 'node:path';

/** Absolute path of a program, looking in sbin too (apt puts nginx in /usr/sbin). */
export function which(name) {
  for (const dir of [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin']) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return join(dir, name);
    } catch { /* not in this dir */ }
  }
  return undefined;
}

/** Ports the kernel hands out on 127.0.0.1 right now (all held at once, so they are distinct). */
export async function freePorts(count) {
  const servers = await Promise.all(Array.from({ length: count }, () => new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => resolve(s));
  })));
  const ports = servers.map((s) => s.address().port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/**
 * A CA, a server-sidecar certificate and a client-sidecar certificate, as Istio issues them:
 * RSA 2048 keys (Istio's default) and SPIFFE URI SANs; the DNS SAN is the name the client
 * sidecar verifies (proxy_ssl_name).
 */
export function makeCerts(openssl, dir) {
  const run = (args) => execFileSync(openssl, args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  run(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/O=meshwork-bench/CN=bench-ca',
    '-keyout', 'ca.key', '-out', 'ca.pem', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  for (const [name, sa, dns] of [['server', 'upstream', 'server-sidecar'], ['client', 'bench', 'client-sidecar']]) {
    run(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/O=meshwork-bench/CN=${dns}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
    writeFileSync(join(dir, `${name}.ext`), [
      `subjectAltName=URI:spiffe://cluster.local/ns/default/sa/${sa},DNS:${dns}`,
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'extendedKeyUsage=serverAuth,clientAuth',
      '',
    ].join('\n'));
    run(['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2',
      '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
  }
  return {
    ca: join(dir, 'ca.pem'),
    server: { cert: join(dir, 'server.pem'), key: join(dir, 'server.key') },
    client: { cert: join(dir, 'client.pem'), key: join(dir, 'client.key') },
  };
}

/** The config of one nginx process (one worker, no master) with an http block around `body`; temp paths in `dir`. */
export function httpBlock(dir, name, nginxV, body) {
  const tmp = join(dir, 'tmp', name);
  mkdirSync(tmp, { recursive: true });
  // Temp paths go to the bench's dir; only for modules this build has (nginx -V lists --without-*).
  const temps = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
    .filter((m) => m === 'client_body' || !nginxV.includes(`--without-http_${m}_module`))
    .map((m) => `  ${m}_temp_path ${join(tmp, m)};`).join('\n');
  return `# Written by a benchmark in bench/ (fetch.mjs, security.mjs); removed when the bench ends.
daemon off;
# One process that does all the work, so its /proc/<pid>/stat is the whole cost of this proxy.
master_process off;
worker_processes 1;
pid ${join(dir, `${name}.pid`)};
error_log ${join(dir, `${name}.error.log`)} warn;
events { worker_connections 4096; }
http {
  access_log off;
  server_tokens off;
  default_type text/plain;
  # Envoy keeps a downstream connection for any number of requests; nginx's default (1000)
  # would add reconnects the mesh does not have.
  keepalive_requests 1000000;
  keepalive_timeout 75s;
${temps}
${body}
}
`;
}

const proxyHeaders = `proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $http_host;`;

/** nginx configs: upstream app (v1, v2), server sidecar, client sidecar. */
export function nginxConfigs(dir, ports, certs, nginxV) {
  // The app: two instances (the mesh row's v1 and v2 endpoints), a fixed small 200. One
  // process each, so that stub_status counts each instance's requests and connections.
  const app = (v) => httpBlock(dir, `upstream-${v}`, nginxV, `
  server {
    listen 127.0.0.1:${ports[v]};
    location / { return 200 "ok\\n"; }
    location = ${STATUS_PATH} { stub_status; }
  }`);
  const serverSidecar = httpBlock(dir, 'server-sidecar', nginxV, `
  upstream app { server 127.0.0.1:${ports.v1}; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${ports.serverPlain};
    location / {
      proxy_pass http://app;
      ${proxyHeaders}
    }
  }
  server {
    listen 127.0.0.1:${ports.serverTls} ssl;
    ssl_protocols TLSv1.3;
    ssl_certificate ${certs.server.cert};
    ssl_certificate_key ${certs.server.key};
    ssl_client_certificate ${certs.ca};
    ssl_verify_client on;
    ssl_session_cache shared:tls:1m;
    location / {
      proxy_pass http://app;
      ${proxyHeaders}
    }
  }`);
  const clientSidecar = httpBlock(dir, 'client-sidecar', nginxV, `
  upstream peer_plain { server 127.0.0.1:${ports.serverPlain}; keepalive 64; keepalive_requests 1000000; }
  upstream peer_mtls { server 127.0.0.1:${ports.serverTls}; keepalive 64; keepalive_requests 1000000; }
  server {
    listen 127.0.0.1:${ports.clientPlain};
    location / {
      proxy_pass http://peer_plain;
      ${proxyHeaders}
    }
  }
  server {
    listen 127.0.0.1:${ports.clientTls};
    location / {
      proxy_pass https://peer_mtls;
      ${proxyHeaders}
      proxy_ssl_protocols TLSv1.3;
      proxy_ssl_certificate ${certs.client.cert};
      proxy_ssl_certificate_key ${certs.client.key};
      proxy_ssl_trusted_certificate ${certs.ca};
      proxy_ssl_verify on;
      proxy_ssl_name server-sidecar;
      proxy_ssl_session_reuse on;
    }
  }`);
  return { 'upstream-v1': app('v1'), 'upstream-v2': app('v2'), 'server-sidecar': serverSidecar, 'client-sidecar': clientSidecar };
}

export const STATUS_PATH = '/_bench_stub_status';

/** One GET; resolves with status and body, rejects on error or after 2 s. */
export function get(port, path = '/') {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path, agent: false, timeout: 2000 }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/**
 * Starts one nginx per config and waits until every port answers "ok". Returns the processes
 * (name -> ChildProcess); the caller stops them with stopAll().
 */
export async function startNginx(nginx, dir, configs, probePorts) {
  const procs = {};
  for (const [name, text] of Object.entries(configs)) {
    const conf = join(dir, `${name}.conf`);
    writeFileSync(conf, text);
    const p = spawn(nginx, ['-p', dir, '-c', conf, '-e', join(dir, `${name}.error.log`)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (c) => { stderr += c; });
    p.exitInfo = () => `${name} nginx exited (${p.exitCode ?? p.signalCode}): ${stderr.trim() || readLog(dir, name)}`;
    procs[name] = p;
  }
  const deadline = Date.now() + 10_000;
  for (const port of probePorts) {
    for (;;) {
      const dead = Object.values(procs).find((p) => p.exitCode !== null || p.signalCode !== null);
      if (dead) throw new Error(dead.exitInfo());
      try {
        const r = await get(port);
        if (r.status === 200 && r.body === 'ok\n') break;
        throw new Error(`port ${port} answered ${r.status} ${JSON.stringify(r.body.slice(0, 200))}`);
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`nginx not ready on port ${port}: ${err.message}\n${Object.keys(procs).map((n) => readLog(dir, n)).join('\n')}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }
  return procs;
}

function readLog(dir, name) {
  try { return readFileSync(join(dir, `${name}.error.log`), 'utf8').trim(); } catch { return ''; }
}

/** Connections accepted and requests served so far by one upstream instance (stub_status). */
export async function upstreamCounts(port) {
  const r = await get(port, STATUS_PATH);
  const m = /accepts handled requests\s+(\d+)\s+(\d+)\s+(\d+)/.exec(r.body);
  if (r.status !== 200 || !m) throw new Error(`stub_status on port ${port}: ${r.status} ${r.body.slice(0, 200)}`);
  return { connections: Number(m[1]), requests: Number(m[3]) };
}

/** SIGTERM (nginx's fast shutdown) to every process still running; synchronous, for exit paths. */
export function stopAll(procs) {
  for (const p of Object.values(procs)) {
    if (p.exitCode === null && p.signalCode === null) {
      try { process.kill(p.pid, 'SIGTERM'); } catch { /* already gone */ }
    }
  }
}

/** utime + stime of a process, in clock ticks (/proc/<pid>/stat fields 14 and 15). */
export function cpuTicks(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name, which is in parentheses and may contain spaces.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(f[11]) + Number(f[12]);
}
