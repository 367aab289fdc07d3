import {
  compileSnapshot, decideInbound, decideOutbound, destinationPolicy, explainInboundJson, explainOutboundJson,
  formatDiagnostic, parseLabels, validateResources, type ExplainInbound, type ExplainOutbound, type Snapshot,
} from '@meshwork/policy';
import { parse } from './main.js';
import { SOURCE_OPTIONS, withSource, type Source } from './source.js';
import { UsageError, type Io } from './io.js';

const OPTIONS = {
  ...SOURCE_OPTIONS,
  namespace: { type: 'string', short: 'n' },
  labels: { type: 'string', short: 'l' },
  'service-account': { type: 'string' },
  header: { type: 'string', short: 'H', multiple: true },
  json: { type: 'boolean' },
  port: { type: 'string' },
  principal: { type: 'string' },
  plaintext: { type: 'boolean' },
  'source-ip': { type: 'string' },
  'jwt-claims': { type: 'string' },
} as const;

export function labelsArg(s: string | undefined): Record<string, string> {
  const r = parseLabels(s);
  if ('invalid' in r) throw new UsageError(`--labels: "${r.invalid}" is not key=value`);
  return r;
}

export function parseHeaders(list: readonly string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const h of list ?? []) {
    const colon = h.indexOf(':');
    if (colon <= 0) throw new UsageError(`-H: "${h}" is not 'name: value'`);
    const name = h.slice(0, colon).trim().toLowerCase();
    const value = h.slice(colon + 1).trim();
    out[name] = out[name] !== undefined ? `${out[name]},${value}` : value;
  }
  return out;
}

/** Splits `'GET http://reviews:9080/x?y'` keeping the authority and target exactly as written. */
export function parseRequestLine(positionals: string[]): { method: string; rest: string } {
  const joined = positionals.join(' ').trim();
  const m = /^([A-Za-z]+)\s+(\S+)$/.exec(joined);
  if (!m) throw new UsageError(`expected '<METHOD> <URL or PATH>' as the last argument, got ${JSON.stringify(joined)}`);
  return { method: m[1]!.toUpperCase(), rest: m[2]! };
}

export function parseUrl(raw: string): { scheme: 'http' | 'https'; authority: string; port: number; target: string } {
  const m = /^(https?):\/\/([^/?#]*)(.*)$/i.exec(raw);
  if (!m) throw new UsageError(`"${raw}" is not an http:// or https:// URL`);
  const scheme = m[1]!.toLowerCase() as 'http' | 'https';
  const authority = m[2]!;
  if (!authority) throw new UsageError(`"${raw}" has no host`);
  let port = scheme === 'https' ? 443 : 80;
  const pm = /:(\d+)$/.exec(authority);
  if (pm && !authority.endsWith(']')) {
    port = Number(pm[1]);
    if (port < 1 || port > 65535) throw new UsageError(`"${raw}": port ${port} is out of range`);
  }
  let target = m[3]! || '/';
  if (target.startsWith('?')) target = '/' + target;
  const hash = target.indexOf('#');
  if (hash >= 0) target = target.slice(0, hash);
  return { scheme, authority, port, target };
}

function loadValid(source: Source, io: Io) {
  const v = validateResources(source.loaded.resources);
  const errors = [...source.loaded.diagnostics, ...v.diagnostics].filter((d) => d.severity === 'error');
  if (errors.length > 0) {
    for (const d of errors) io.err(formatDiagnostic(source.present(d)) + '\n');
    return undefined;
  }
  return v.valid;
}

export async function explainCommand(args: string[], io: Io): Promise<number> {
  const [direction, ...rest] = args;
  if (direction !== 'outbound' && direction !== 'inbound') throw new UsageError('explain needs "outbound" or "inbound"');
  const { values, positionals } = parse(rest, OPTIONS);
  if (!values.namespace) throw new UsageError(`explain ${direction} needs --namespace <ns>`);
  const { method, rest: where } = parseRequestLine(positionals);
  const headers = parseHeaders(values.header);
  const labels = labelsArg(values.labels);
  const workload = { namespace: values.namespace, labels, serviceAccount: values['service-account'] };

  let answer: (snap: Snapshot) => string;
  if (direction === 'outbound') {
    const url = parseUrl(where);
    answer = (snap) => {
      const authority = headers.host ?? url.authority;
      const decision = decideOutbound(snap, { method, scheme: url.scheme, authority, port: url.port, target: url.target, headers: { ...headers, host: authority } });
      const drs = decision.destinations.map((d) => destinationPolicy(snap, d).destinationRule?.ids.join('+') ?? null);
      const out = explainOutboundJson(decision, drs);
      return values.json ? JSON.stringify(out, null, 2) + '\n' : renderOutbound(out, method, where, snap);
    };
  } else {
    if (values.principal !== undefined && values.plaintext) throw new UsageError('--principal and --plaintext contradict each other: give one');
    if (!values.port) throw new UsageError('explain inbound needs --port <workload port>');
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new UsageError(`--port: "${values.port}" is not a port number`);
    if (!where.startsWith('/')) throw new UsageError(`explain inbound takes '<METHOD> <PATH>' with a path starting with "/", got "${where}"`);
    let jwtClaims: Record<string, unknown> | undefined;
    if (values['jwt-claims'] !== undefined) {
      try {
        const v = JSON.parse(values['jwt-claims']) as unknown;
        if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
        jwtClaims = v as Record<string, unknown>;
      } catch (e) {
        throw new UsageError(`--jwt-claims: ${(e as Error).message}`);
      }
    }
    const principal = values.principal?.replace(/^spiffe:\/\//, '');
    answer = (snap) => {
      const decision = decideInbound(snap, {
        port, principal, sourceIp: values['source-ip'], method, target: where, host: headers.host, headers, jwtClaims,
      });
      const out = explainInboundJson(decision);
      return values.json ? JSON.stringify(out, null, 2) + '\n' : renderInbound(out, method, where);
    };
  }

  return withSource(values, io, `explain ${direction}`, (source) => {
    const resources = loadValid(source, io);
    if (!resources) return 2;
    io.out(answer(compileSnapshot(resources, workload)));
    return 0;
  });
}

function pct(p: number): string {
  return `${Number(p.toFixed(4))}%`;
}

export function renderOutbound(o: ExplainOutbound, method: string, url: string, snap: Snapshot): string {
  const lines = [`${method} ${url}  (from namespace ${snap.workload.namespace}${Object.keys(snap.workload.labels).length ? `, labels ${Object.entries(snap.workload.labels).map(([k, v]) => `${k}=${v}`).join(',')}` : ''})`];
  lines.push(`  host            ${o.host}`);
  lines.push(`  virtualService  ${o.virtualService ?? '(none)'}${o.rule !== null ? `, rule #${o.rule}${o.match !== null ? ` match #${o.match}` : ''}` : ''}`);
  lines.push(`  action          ${o.action}`);
  for (const [i, d] of o.destinations.entries()) {
    lines.push(`  destination     ${d.weight}% -> ${d.host}:${d.port}${d.subset ? ` subset ${d.subset}` : ''}${o.destinationRules[i] ? `  (DestinationRule ${o.destinationRules[i]})` : ''}`);
  }
  if (o.action === 'route') {
    lines.push(`  timeout         ${o.timeoutMs === null ? 'none' : `${o.timeoutMs} ms`}`);
    lines.push(`  retries         ${o.retries ? `${o.retries.attempts} on ${o.retries.retryOn}${o.retries.perTryTimeoutMs !== null ? `, ${o.retries.perTryTimeoutMs} ms per try` : ''}` : 'none'}`);
  }
  if (o.fault) {
    if (o.fault.delay) lines.push(`  fault delay     ${o.fault.delay.ms} ms for ${pct(o.fault.delay.percent)} of requests`);
    if (o.fault.abort) lines.push(`  fault abort     ${o.fault.abort.httpStatus ?? o.fault.abort.grpcStatus} for ${pct(o.fault.abort.percent)} of requests`);
  }
  for (const m of o.mirrors) lines.push(`  mirror          ${pct(m.percent)} -> ${m.host}:${m.port}${m.subset ? ` subset ${m.subset}` : ''}`);
  if (o.redirect) lines.push(`  redirect        ${o.redirect.status} Location: ${o.redirect.location}`);
  if (o.directResponse) lines.push(`  response        ${o.directResponse.status}${o.directResponse.body !== null ? ` ${JSON.stringify(o.directResponse.body)}` : ''}`);
  if (o.rewrite) lines.push(`  rewritten to    ${o.rewrite.authority} ${o.rewrite.path}`);
  for (const n of o.notes) lines.push(`  note            ${n}`);
  return lines.join('\n') + '\n';
}

export function renderInbound(o: ExplainInbound, method: string, path: string): string {
  const lines = [`${method} ${path}  (normalised: ${o.path})`];
  lines.push(`  mTLS            ${o.mtls}, connection ${o.connection}`);
  lines.push(`  decision        ${o.decision}${o.policy ? ` by ${o.policy} rule #${o.rule}` : o.decision === 'ALLOW' ? ' (no ALLOW policy applies)' : o.connection === 'accepted' ? ' (ALLOW policies apply and none matched)' : ''}`);
  if (o.requestPrincipal) lines.push(`  request auth    ${o.requestPrincipal}`);
  if (o.dryRun.length) lines.push(`  dry-run         would change the decision: ${o.dryRun.join(', ')}`);
  if (o.audit.length) lines.push(`  audit           ${o.audit.join(', ')}`);
  for (const n of o.notes) lines.push(`  note            ${n}`);
  return lines.join('\n') + '\n';
}
