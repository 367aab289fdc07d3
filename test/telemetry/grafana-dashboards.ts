/**
 * Istio's Grafana dashboards as data: every PromQL expression (panel targets, rows' nested
 * panels, and the templating variables' `query_result(...)` queries), Grafana's variable
 * interpolation for the Prometheus data source, and the `query_result` + regex step that fills
 * a query variable's options. Enough of Grafana to run the dashboards' queries unchanged.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sample } from './prometheus-server.js';

export const DASHBOARD_DIR = process.env.MESHWORK_ISTIO_DASHBOARDS
  ?? resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared/conformance/istio/manifests/addons/dashboards');

export const DASHBOARD_FILES = ['istio-mesh-dashboard.gen.json', 'istio-service-dashboard.json', 'istio-workload-dashboard.json'] as const;

export interface Variable {
  name: string;
  type: string;
  /** PromQL of a `query` variable (inside `query_result(...)`), else the raw query text. */
  query: string;
  regex: RegExp | undefined;
  multi: boolean;
  includeAll: boolean;
  /** The saved selection (`$__all` for All). */
  current: string[];
  /** A `custom` variable's options. */
  options: string[];
}

export interface DashboardExpr {
  dashboard: string;
  /** `panel <id> "<title>" <refId>` or `variable $<name>`. */
  where: string;
  panelTitle?: string;
  refId?: string;
  variable?: string;
  /** The panel's minimum interval (`5s`), which bounds Grafana's `$__interval`. */
  minInterval?: string;
  expr: string;
}

export interface Dashboard {
  file: string;
  title: string;
  variables: Variable[];
  exprs: DashboardExpr[];
}

interface RawPanel {
  id?: number;
  title?: string;
  interval?: string;
  targets?: { expr?: string; refId?: string }[];
  panels?: RawPanel[];
}

/** `/.*x="([^"]*).*\/` → RegExp (Grafana's `regex` field is written as a JS regex literal). */
function grafanaRegex(text: string | undefined): RegExp | undefined {
  if (!text) return undefined;
  const m = /^\/(.*)\/([gimsuy]*)$/s.exec(text);
  return m ? new RegExp(m[1]!, m[2]) : new RegExp(text);
}

const QUERY_RESULT = /^\s*query_result\(([\s\S]*)\)\s*$/;

export function loadDashboard(file: string): Dashboard {
  const raw = JSON.parse(readFileSync(join(DASHBOARD_DIR, file), 'utf8')) as { title: string; panels?: RawPanel[]; templating?: { list?: any[] } };
  const exprs: DashboardExpr[] = [];
  const walk = (panels: RawPanel[] | undefined) => {
    for (const p of panels ?? []) {
      for (const t of p.targets ?? []) {
        if (typeof t.expr === 'string' && t.expr.trim()) {
          exprs.push({ dashboard: file, where: `panel ${p.id} "${p.title ?? ''}" ${t.refId ?? ''}`.trim(), panelTitle: p.title ?? '', refId: t.refId ?? '', minInterval: p.interval, expr: t.expr });
        }
      }
      walk(p.panels); // collapsed rows keep their panels inside
    }
  };
  walk(raw.panels);
  const variables: Variable[] = [];
  for (const v of raw.templating?.list ?? []) {
    const q = typeof v.query === 'string' ? v.query : (v.query?.query ?? '');
    const inner = v.type === 'query' ? QUERY_RESULT.exec(q)?.[1] : undefined;
    if (v.type === 'query' && inner === undefined) throw new Error(`${file}: variable $${v.name} is not a query_result() query: ${q}`);
    const current = v.current?.value === undefined ? [] : [v.current.value].flat().map(String);
    variables.push({
      name: v.name,
      type: v.type,
      query: inner ?? q,
      regex: grafanaRegex(v.regex),
      multi: v.multi === true,
      includeAll: v.includeAll === true,
      current,
      options: (v.options ?? []).map((o: { value: unknown }) => String(o.value)),
    });
    if (inner !== undefined) exprs.push({ dashboard: file, where: `variable $${v.name}`, variable: v.name, expr: inner });
  }
  return { file, title: raw.title, variables, exprs };
}

export function loadDashboards(): Dashboard[] {
  return DASHBOARD_FILES.map(loadDashboard);
}

// --- classification ------------------------------------------------------------------------

export type ExprKind = 'http' | 'grpc-messages' | 'tcp' | 'control-plane' | 'other';

const HTTP_METRICS = /\bistio_(requests_total|request_duration_milliseconds|request_duration_seconds|request_bytes|response_bytes)/;
const GRPC_MESSAGES = /\bistio_(request|response)_messages_total/;
const TCP_METRICS = /\bistio_tcp_/;
const CONTROL_PLANE = /\b(istio_build|pilot_|galley_|citadel_|sidecar_injection_|istiod_|envoy_cluster_manager|process_|go_)/;

/** What an expression is about: any HTTP request metric makes it HTTP (a variable query ORs HTTP and TCP). */
export function classify(expr: string): ExprKind {
  if (HTTP_METRICS.test(expr)) return 'http';
  if (GRPC_MESSAGES.test(expr)) return 'grpc-messages';
  if (TCP_METRICS.test(expr)) return 'tcp';
  if (CONTROL_PLANE.test(expr)) return 'control-plane';
  return 'other';
}

// --- Grafana interpolation (Prometheus data source) ------------------------------------------

/** Grafana's prometheusSpecialRegexEscape: values of multi-value / All variables go into regexes. */
function regexEscape(v: string): string {
  return v.replace(/\\/g, '\\\\\\\\').replace(/[$^*{}[\]'+?.()|]/g, '\\\\$&');
}

/** Grafana's prometheusRegularEscape, for single-value variables. */
function plainEscape(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/'/g, "\\\\'");
}

/** A variable's selection as Grafana writes it into a Prometheus query (interpolateQueryExpr). */
export function formatValue(variable: Pick<Variable, 'multi' | 'includeAll'>, values: readonly string[]): string {
  if (!variable.multi && !variable.includeAll) return plainEscape(values[0] ?? '');
  const escaped = values.map(regexEscape);
  return escaped.length === 1 ? escaped[0]! : `(${escaped.join('|')})`;
}

/**
 * Replaces `$name`, `${name}`, `${name:format}` and `[[name]]` with `values[name]` (already
 * formatted). An unknown variable is an error, so a dashboard that gains one says so.
 */
export function interpolate(expr: string, values: Readonly<Record<string, string>>): string {
  const pick = (name: string) => {
    const v = values[name];
    if (v === undefined) throw new Error(`no value for Grafana variable $${name} in: ${expr}`);
    return v;
  };
  return expr
    .replace(/\$\{(\w+)(?::\w+)?\}/g, (_, n: string) => pick(n))
    .replace(/\[\[(\w+)\]\]/g, (_, n: string) => pick(n))
    .replace(/\$(\w+)/g, (_, n: string) => pick(n));
}

/** `15s`, `1m`, `500ms` → seconds. */
export function seconds(d: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(d.trim());
  if (!m) throw new Error(`not a Grafana interval: ${d}`);
  return Number(m[1]) * { ms: 0.001, s: 1, m: 60, h: 3600 }[m[2] as 'ms' | 's' | 'm' | 'h'];
}

/**
 * Grafana's `$__rate_interval` = max($__interval + scrape interval, 4 × scrape interval), with
 * `$__interval` no smaller than the data source's scrape interval and the panel's min interval.
 * Assumes a time range short enough for the raw `$__interval` to fall below both (the default
 * 15-30 minute ranges at ~1000 data points give 1-2 s).
 */
export function rateInterval(e: Pick<DashboardExpr, 'minInterval'>, scrapeSeconds: number): string {
  const interval = Math.max(scrapeSeconds, e.minInterval ? seconds(e.minInterval) : 0);
  return `${Math.max(interval + scrapeSeconds, 4 * scrapeSeconds)}s`;
}

/**
 * The options a query variable gets from its `query_result(...)` result: Grafana writes each
 * series as `name{l="v",...} value timestamp` and keeps the regex's first capture group.
 */
export function variableOptions(variable: Variable, result: readonly Sample[]): string[] {
  const out: string[] = [];
  for (const s of result) {
    const { __name__: name = '', ...labels } = s.metric;
    const text = `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}} ${s.value[1]} ${Math.round(s.value[0] * 1000)}`;
    let value: string | undefined = text;
    if (variable.regex) {
      const m = variable.regex.exec(text);
      value = m ? (m[1] ?? m[0]) : undefined;
    }
    if (value !== undefined && !out.includes(value)) out.push(value);
  }
  return out;
}

// --- what a user can select --------------------------------------------------------------------

export interface View {
  /** What the user picked for the variables that take one value (`service`, `qrep`...). */
  chosen: Record<string, string>;
  /** Every variable's value as written into queries. */
  values: Record<string, string>;
}

/**
 * Every selection a user can make on the dashboard: each option of each single-choice variable
 * (a query variable's options come from its query, run with the variables before it), with the
 * `All` variables left at All as saved. `onVariable` sees each variable query and its result.
 */
export async function dashboardViews(
  d: Dashboard,
  run: (expr: string) => Promise<Sample[]>,
  onVariable?: (e: DashboardExpr, view: View, result: Sample[]) => void,
): Promise<View[]> {
  let views: View[] = [{ chosen: {}, values: {} }];
  for (const v of d.variables) {
    if (v.type === 'datasource') continue;
    const next: View[] = [];
    for (const view of views) {
      let options: string[];
      if (v.type === 'query') {
        const result = await run(interpolate(v.query, view.values));
        const e = d.exprs.find((x) => x.variable === v.name)!;
        onVariable?.(e, view, result);
        options = variableOptions(v, result);
      } else if (v.type === 'custom') {
        options = v.options.length > 0 ? v.options : v.query.split(',').map((x) => x.trim());
      } else {
        throw new Error(`${d.file}: variable $${v.name} of type ${v.type} is not handled`);
      }
      if (v.includeAll && v.current.includes('$__all')) {
        next.push({ chosen: view.chosen, values: { ...view.values, [v.name]: formatValue(v, options) } });
      } else {
        for (const o of options) next.push({ chosen: { ...view.chosen, [v.name]: o }, values: { ...view.values, [v.name]: formatValue(v, [o]) } });
      }
    }
    views = next;
  }
  return views;
}
