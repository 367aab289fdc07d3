/**
 * Evaluation of `x-kubernetes-validations` rules as the Kubernetes API server runs them
 * (k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel: validation.go, compilation.go),
 * on @marcbachmann/cel-js with the Kubernetes library from cel-k8s-library.ts.
 *
 * Each distinct rule is compiled once and cached. Values handed to CEL are converted by the
 * schema of their position, as Kubernetes' UnstructuredToVal does: `integer` becomes a CEL int
 * (BigInt), `number` a double, objects maps keyed by their escaped property names.
 *
 * The API server meters evaluation with a cost budget. cel-js has no meter, so the cost of an
 * evaluation is bounded before it starts: the rule's AST nodes weighted by the size of the largest
 * collection in `self` to the power of their comprehension nesting depth. That bound is checked
 * against Kubernetes' per-call limit and per-object budget, so no rule can run away.
 */
import { Environment, Optional, type ASTNode, type ParseResult } from '@marcbachmann/cel-js';
import { CelGoError, registerKubernetesLibrary, rewriteExpression } from './cel-k8s-library.js';

/** One `x-kubernetes-validations` entry. */
export interface XValidation {
  rule: string;
  message?: string;
  messageExpression?: string;
  fieldPath?: string;
  reason?: string;
  optionalOldSelf?: boolean;
}

/** The part of a compiled schema node the conversion to CEL values reads. */
export interface CelTypeInfo {
  /** `type` of the schema (`''` when absent, as for int-or-string). */
  readonly type: string;
  readonly format: string;
  readonly intOrString: boolean;
  readonly preserveUnknown: boolean;
  readonly properties: ReadonlyMap<string, CelTypeInfo> | null;
  readonly additional: CelTypeInfo | null;
  readonly items: CelTypeInfo | null;
}

/** apiserver/pkg/apis/cel/config.go: PerCallLimit and RuntimeCELCostBudget. */
export const PER_CALL_LIMIT = 1_000_000;
export const RUNTIME_CEL_COST_BUDGET = 10_000_000;
/** apiserver/pkg/apis/cel/config.go: MaxEvaluatedMessageExpressionSizeBytes. */
const MAX_MESSAGE_EXPRESSION_BYTES = 5 * 1024;

export interface CompiledCelRule {
  readonly source: XValidation;
  /** `undefined` for an empty rule, which Kubernetes skips. */
  readonly program: ParseResult | undefined;
  /** Kubernetes' `rule compile error` detail when the rule does not compile. */
  readonly compileError: string | undefined;
  readonly messageProgram: ParseResult | undefined;
  readonly usesOldSelf: boolean;
  /** AST node counts by comprehension nesting depth, for the cost bound. */
  readonly nodesByDepth: readonly number[];
  /** validation.go: ruleErrorString */
  readonly errorString: string;
  /** validation.go: ruleMessageOrDefault */
  readonly defaultMessage: string;
}

export type CelOutcome =
  | { kind: 'pass' }
  | { kind: 'skip' }
  /** The rule evaluated to false; `detail` is the message to show. */
  | { kind: 'fail'; detail: string }
  /** The rule could not be evaluated; `stop` means no further rule may run for this object. */
  | { kind: 'error'; detail: string; stop: boolean };

/** What remains of the per-object cost budget. */
export interface CelBudget {
  remaining: number;
}

let environment: Environment | undefined;

function celEnvironment(): Environment {
  if (environment) return environment;
  // cel-js does not export its Duration class; a value it creates leads to the constructor.
  const durationCtor = (new Environment().evaluate('duration("1s")') as object).constructor as new (s: bigint | number, n?: number) => unknown;
  const env = new Environment({
    unlistedVariablesAreDyn: false,
    // cel-go (as Kubernetes configures it) types mixed literals as list(dyn) / map(dyn, dyn).
    homogeneousAggregateLiterals: false,
    // Kubernetes' base environment enables optional types (`self.?field`, `oldSelf.hasValue()`).
    enableOptionalTypes: true,
  });
  env.registerVariable('self', 'dyn');
  env.registerVariable('oldSelf', 'dyn');
  registerKubernetesLibrary(env, durationCtor);
  environment = env;
  return env;
}

const compiled = new Map<string, CompiledCelRule>();

/** Compiles a rule once; later calls with the same rule return the cached result. */
export function compileCelRule(rule: XValidation): CompiledCelRule {
  const key = `${rule.rule}\u0000${rule.message ?? ''}\u0000${rule.messageExpression ?? ''}\u0000${rule.optionalOldSelf === true}`;
  const hit = compiled.get(key);
  if (hit) return hit;
  const result = compileUncached(rule);
  compiled.set(key, result);
  return result;
}

function compileUncached(rule: XValidation): CompiledCelRule {
  const errorString = rule.message !== undefined && rule.message.length > 0 ? rule.message.trim() : rule.rule.trim();
  const defaultMessage = rule.message !== undefined && rule.message.length > 0 ? rule.message.trim() : `failed rule: ${errorString}`;
  const base = { source: rule, errorString, defaultMessage };
  // compilation.go: compileRule leaves an empty rule without program and without error.
  if (rule.rule.trim().length === 0) {
    return { ...base, program: undefined, compileError: undefined, messageProgram: undefined, usesOldSelf: false, nodesByDepth: [] };
  }
  const env = celEnvironment();
  const rewritten = rewriteExpression(rule.rule);
  let program: ParseResult | undefined;
  let compileError: string | undefined;
  try {
    program = env.parse(rewritten.text);
    const check = program.check();
    if (!check.valid) compileError = `compilation failed: ${firstLine(check.error?.message ?? 'invalid expression')}`;
    else if (check.type !== 'bool' && check.type !== 'dyn') compileError = 'cel expression must evaluate to a bool';
  } catch (e) {
    compileError = `compilation failed: ${firstLine((e as Error).message)}`;
  }
  let messageProgram: ParseResult | undefined;
  if (compileError === undefined && rule.messageExpression !== undefined && rule.messageExpression.trim() !== '') {
    // A messageExpression that does not compile leaves the static message in use (validation.go).
    try {
      const p = env.parse(rewriteExpression(rule.messageExpression).text);
      const check = p.check();
      if (check.valid && (check.type === 'string' || check.type === 'dyn')) messageProgram = p;
    } catch {
      messageProgram = undefined;
    }
  }
  return {
    ...base,
    program: compileError === undefined ? program : undefined,
    compileError,
    messageProgram,
    usesOldSelf: rewritten.usesOldSelf,
    nodesByDepth: program ? countNodesByDepth(program.ast) : [],
  };
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i < 0 ? s : s.slice(0, i);
}

const COMPREHENSIONS = new Set(['all', 'exists', 'exists_one', 'map', 'filter']);

/** Counts AST nodes per comprehension depth (the body of `l.all(x, ...)` is one level deeper). */
function countNodesByDepth(root: ASTNode): number[] {
  const counts: number[] = [];
  const visit = (node: unknown, depth: number): void => {
    if (!node || typeof node !== 'object' || !('op' in node)) return;
    counts[depth] = (counts[depth] ?? 0) + 1;
    const n = node as ASTNode;
    const args = n.args as unknown;
    if (n.op === 'rcall' && Array.isArray(args) && COMPREHENSIONS.has(args[0] as string)) {
      visit(args[1], depth);
      const rest = args[2] as unknown[];
      for (const a of rest) visit(a, depth + 1);
      return;
    }
    visitChildren(args, depth, visit);
  };
  visit(root, 0);
  for (let i = 0; i < counts.length; i++) counts[i] ??= 0;
  return counts;
}

function visitChildren(args: unknown, depth: number, visit: (n: unknown, d: number) => void): void {
  if (Array.isArray(args)) {
    for (const a of args) {
      if (Array.isArray(a)) visitChildren(a, depth, visit);
      else visit(a, depth);
    }
  } else visit(args, depth);
}

// ---------------------------------------------------------------------------------------------
// Values.

const RESERVED = new Set(['true', 'false', 'null', 'in', 'as', 'break', 'const', 'continue', 'else', 'for', 'function', 'if', 'import', 'let', 'loop', 'package', 'namespace', 'return', 'var', 'void', 'while']);
const escapeCache = new Map<string, string | null>();

/**
 * apiserver/pkg/cel/escaping.go: Escape. Property names reach CEL escaped (`__dash__`,
 * `__namespace__`...); names that cannot be escaped are not visible to rules.
 */
export function escapePropertyName(ident: string): string | null {
  const hit = escapeCache.get(ident);
  if (hit !== undefined) return hit;
  let out: string | null;
  if (ident.length === 0 || (ident[0]! >= '0' && ident[0]! <= '9')) out = null;
  else if (RESERVED.has(ident)) out = `__${ident}__`;
  else if (/[^A-Za-z0-9\-./_]/.test(ident)) out = null;
  else out = ident.replace(/__|[-./]/g, (m) => (m === '__' ? '__underscores__' : m === '.' ? '__dot__' : m === '-' ? '__dash__' : '__slash__'));
  if (escapeCache.size < 10_000) escapeCache.set(ident, out);
  return out;
}

/**
 * Converts documents to CEL values by schema, memoized per object so that nested rules reuse
 * the conversion made for an enclosing rule. One converter serves one validation call.
 */
export class CelValueConverter {
  private readonly cache = new WeakMap<object, { info: CelTypeInfo; value: unknown }>();
  /** Largest list or map size, or string length, anywhere inside a converted collection. */
  private readonly sizes = new WeakMap<object, number>();

  /** The CEL value of `raw` at a position typed by `info`; `root` adds apiVersion/kind/metadata. */
  convert(raw: unknown, info: CelTypeInfo, root = false): unknown {
    if (raw === null || raw === undefined) return null;
    if (typeof raw === 'object') {
      const hit = this.cache.get(raw);
      if (hit && hit.info === info && !root) return hit.value;
      const value = this.convertTyped(raw, info, root);
      if (!root) this.cache.set(raw, { info, value });
      return value;
    }
    return this.convertTyped(raw, info, root);
  }

  /**
   * The size bound used for the cost estimate of a rule applied to `value`: the longest list,
   * map or string in it (a comprehension can iterate at most that many elements, also over
   * `split()` results).
   */
  collectionSize(value: unknown): number {
    if (value instanceof Map) return this.sizes.get(value) ?? value.size;
    if (Array.isArray(value)) return this.sizes.get(value) ?? value.length;
    if (typeof value === 'string') return value.length;
    if (value instanceof Uint8Array) return value.length;
    return 0;
  }

  private convertTyped(raw: unknown, info: CelTypeInfo, root: boolean): unknown {
    if (info.intOrString) {
      if (typeof raw === 'number') return Number.isInteger(raw) ? BigInt(raw) : raw;
      return this.convertDyn(raw);
    }
    switch (info.type) {
      case 'integer':
        return typeof raw === 'number' && Number.isInteger(raw) ? BigInt(raw) : this.convertDyn(raw);
      case 'number':
        return typeof raw === 'number' ? raw : this.convertDyn(raw);
      case 'string':
        return typeof raw === 'string' ? convertFormattedString(raw, info.format) : this.convertDyn(raw);
      case 'boolean':
        return raw;
      case 'array': {
        if (!Array.isArray(raw)) return this.convertDyn(raw);
        const items = info.items;
        const out = raw.map((v) => (items ? this.convert(v, items) : this.convertDyn(v)));
        this.recordSize(out, out.length, out);
        return out;
      }
      case 'object':
        break;
      default:
        if (!(raw !== null && typeof raw === 'object' && !Array.isArray(raw))) return this.convertDyn(raw);
    }
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return this.convertDyn(raw);
    const obj = raw as Record<string, unknown>;
    const out = new Map<string, unknown>();
    if (info.properties) {
      for (const [k, v] of Object.entries(obj)) {
        const prop = info.properties.get(k);
        if (prop) {
          const name = escapePropertyName(k);
          if (name !== null) out.set(name, this.convert(v, prop));
        } else if (info.preserveUnknown) {
          out.set(k, this.convertDyn(v));
        }
      }
    } else if (info.additional) {
      for (const [k, v] of Object.entries(obj)) out.set(k, this.convert(v, info.additional));
    } else if (info.preserveUnknown) {
      for (const [k, v] of Object.entries(obj)) out.set(k, this.convertDyn(v));
    }
    if (root) {
      // model.WithTypeAndObjectMeta: rules at the resource root see apiVersion, kind and
      // metadata.name / metadata.generateName.
      if (typeof obj.apiVersion === 'string') out.set('apiVersion', obj.apiVersion);
      if (typeof obj.kind === 'string') out.set('kind', obj.kind);
      const md = obj.metadata;
      if (md && typeof md === 'object' && !Array.isArray(md)) {
        const meta = new Map<string, unknown>();
        const m = md as Record<string, unknown>;
        if (typeof m.name === 'string') meta.set('name', m.name);
        if (typeof m.generateName === 'string') meta.set('generateName', m.generateName);
        out.set('metadata', meta);
      }
    }
    this.recordSize(out, out.size, [...out.values()]);
    return out;
  }

  /** Values without a schema (preserved unknown fields): whole numbers are ints, as Go decodes JSON. */
  private convertDyn(raw: unknown): unknown {
    if (raw === null || raw === undefined) return null;
    if (typeof raw === 'number') return Number.isInteger(raw) && Math.abs(raw) < 2 ** 63 ? BigInt(raw) : raw;
    if (Array.isArray(raw)) {
      const out = raw.map((v) => this.convertDyn(v));
      this.recordSize(out, out.length, out);
      return out;
    }
    if (raw instanceof Date) return raw;
    if (typeof raw === 'object') {
      const out = new Map<string, unknown>();
      for (const [k, v] of Object.entries(raw as Record<string, unknown>)) out.set(k, this.convertDyn(v));
      this.recordSize(out, out.size, [...out.values()]);
      return out;
    }
    return raw;
  }

  private recordSize(target: object, own: number, children: readonly unknown[]): void {
    let max = own;
    for (const c of children) {
      const s = c !== null && typeof c === 'object' ? (this.sizes.get(c) ?? 0) : typeof c === 'string' ? c.length : 0;
      if (s > max) max = s;
    }
    if (target instanceof Map) for (const k of target.keys()) if (typeof k === 'string' && k.length > max) max = k.length;
    this.sizes.set(target, max);
  }
}

/** apiserver/pkg/cel/common/values.go: strings with a format become the CEL type of the format. */
function convertFormattedString(s: string, format: string): unknown {
  switch (format) {
    case 'byte':
      return new Uint8Array(Buffer.from(s, 'base64'));
    case 'date-time':
    case 'date': {
      const d = new Date(s);
      return Number.isNaN(d.getTime()) ? s : d;
    }
    default:
      return s;
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation.

/** cel-js error → the text cel-go gives for the same failure. */
function celGoErrorText(e: unknown): string {
  if (e instanceof CelGoError) return e.message;
  const err = e as { code?: string; summary?: string; message?: string; cause?: unknown };
  if (err && err.cause instanceof CelGoError) return err.cause.message;
  const summary = err?.summary ?? err?.message ?? String(e);
  switch (err?.code) {
    case 'no_such_key':
      return summary.replace(/^No such key/, 'no such key');
    case 'index_out_of_bounds': {
      const m = /index (-?\d+) >= size (\d+)/.exec(summary);
      return m ? `index '${m[1]}' out of range in list size '${m[2]}'` : 'index out of range';
    }
    case 'no_matching_overload':
    case 'no_such_overload':
      return 'no such overload';
    case 'division_by_zero':
      return 'division by zero';
    case 'modulo_by_zero':
      return 'modulus by zero';
    case 'numeric_overflow':
      return /unsigned/i.test(summary) ? 'unsigned integer overflow' : 'integer overflow';
    default:
      return summary;
  }
}

function estimateCost(rule: CompiledCelRule, n: number): number {
  const base = Math.max(1, n);
  let cost = 0;
  let weight = 1;
  for (const count of rule.nodesByDepth) {
    cost += count * weight;
    weight *= base;
  }
  return Math.max(1, cost);
}

const NO_FURTHER_BUDGET = 'validation failed due to running out of cost budget, no further validation rules will be run';

/**
 * Evaluates one compiled rule on `self` (already converted), as validation.go:
 * validateExpressions does for an object being created (there is no old object).
 */
export function evaluateCelRule(rule: CompiledCelRule, self: unknown, selfSize: number, budget: CelBudget): CelOutcome {
  if (budget.remaining <= 0) return { kind: 'error', detail: NO_FURTHER_BUDGET, stop: true };
  if (rule.compileError !== undefined) return { kind: 'error', detail: `rule compile error: ${rule.compileError}`, stop: false };
  const program = rule.program;
  if (!program) return { kind: 'skip' };
  const optionalOldSelf = rule.source.optionalOldSelf === true;
  // Transition rules need the old object; on create only optionalOldSelf rules run, with
  // oldSelf an empty optional.
  if (rule.usesOldSelf && !optionalOldSelf) return { kind: 'skip' };
  const cost = estimateCost(rule, selfSize);
  if (cost > PER_CALL_LIMIT) {
    budget.remaining = -1;
    return { kind: 'error', detail: `'operation cancelled: actual cost limit exceeded': no further validation rules will be run due to call cost exceeds limit for rule: ${rule.errorString}`, stop: true };
  }
  if (cost > budget.remaining) {
    budget.remaining = -1;
    return { kind: 'error', detail: NO_FURTHER_BUDGET, stop: true };
  }
  budget.remaining -= cost;
  const context = optionalOldSelf ? { self, oldSelf: Optional.none() } : { self };
  let result: unknown;
  try {
    result = program(context);
  } catch (e) {
    const text = celGoErrorText(e);
    if (text.startsWith('no such overload')) {
      return { kind: 'error', detail: `'${text}': call arguments did not match a supported operator, function or macro signature for rule: ${rule.errorString}`, stop: false };
    }
    return { kind: 'error', detail: `${text} evaluating rule: ${rule.errorString}`, stop: false };
  }
  if (result === true) return { kind: 'pass' };
  if (rule.messageProgram) {
    const msgCost = estimateCost(rule, selfSize);
    if (msgCost > budget.remaining) {
      budget.remaining = -1;
      return { kind: 'error', detail: 'messageExpression evaluation failed due to running out of cost budget, no further validation rules will be run', stop: true };
    }
    budget.remaining -= msgCost;
    const message = evaluateMessage(rule.messageProgram, { self });
    if (message !== undefined) return { kind: 'fail', detail: message };
  }
  return { kind: 'fail', detail: rule.defaultMessage };
}

/** validation.go: evalMessageExpression; `undefined` means fall back to the static message. */
function evaluateMessage(program: ParseResult, context: Record<string, unknown>): string | undefined {
  let value: unknown;
  try {
    value = program(context);
  } catch {
    return undefined;
  }
  if (typeof value !== 'string') return undefined;
  const trimmed = value.trim();
  if (Buffer.byteLength(trimmed, 'utf8') > MAX_MESSAGE_EXPRESSION_BYTES) return undefined;
  if (/[\n\r]/.test(trimmed) || trimmed.length === 0) return undefined;
  return trimmed;
}

// ---------------------------------------------------------------------------------------------
// fieldPath

/** One step of a rule's `fieldPath`: a property (`.name`) or a map key (`['key']`). */
export interface FieldPathStep {
  name: string;
  /** true for a property, false for a map key. */
  named: boolean;
}

/**
 * validation.go: ValidFieldPath. Returns the steps of a rule's `fieldPath` relative to the node
 * holding the rule, or `undefined` when Kubernetes would ignore it (invalid path).
 */
export function parseRuleFieldPath(fieldPath: string, info: CelTypeInfo): FieldPathStep[] | undefined {
  const tokens: string[] = [];
  let i = 0;
  while (i < fieldPath.length) {
    const c = fieldPath[i]!;
    if (c === "'") {
      let j = i + 1;
      while (j < fieldPath.length && !(fieldPath[j] === "'" && fieldPath[j - 1] !== '\\')) j++;
      tokens.push(fieldPath.slice(i, j + 1));
      i = j + 1;
    } else if (c === '.' || c === '[' || c === ']') {
      tokens.push(c);
      i++;
    } else {
      let j = i;
      while (j < fieldPath.length && !'.[]'.includes(fieldPath[j]!)) j++;
      tokens.push(fieldPath.slice(i, j));
      i = j;
    }
  }
  const steps: FieldPathStep[] = [];
  let node: CelTypeInfo | null = info;
  const append = (name: string): boolean => {
    if (!node) return false;
    if (node.properties) {
      const next = node.properties.get(name);
      if (!next) return false;
      steps.push({ name, named: true });
      node = next;
      return true;
    }
    if (node.additional) {
      steps.push({ name, named: false });
      node = node.additional;
      return true;
    }
    return false;
  };
  for (let t = 0; t < tokens.length; t++) {
    const tok = tokens[t]!;
    if (tok === '[') {
      const quoted = tokens[++t];
      if (quoted === undefined || quoted.length < 2 || quoted[0] !== "'" || quoted[quoted.length - 1] !== "'") return undefined;
      const key = unescapeSingleQuote(quoted.slice(1, -1));
      if (key === undefined || !append(key)) return undefined;
      if (tokens[++t] !== ']') return undefined;
    } else if (tok === '.') {
      const name = tokens[++t];
      if (name === undefined || !append(name)) return undefined;
    } else {
      return undefined;
    }
  }
  return steps;
}

// validation.go: unescapeSingleQuote
function unescapeSingleQuote(s: string): string | undefined {
  let ok = true;
  const out = s.replace(/\\./g, (m) => {
    switch (m[1]) {
      case 'a':
        return '\x07';
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      case 'n':
        return '\n';
      case 'r':
        return '\r';
      case 't':
        return '\t';
      case 'v':
        return '\v';
      case "'":
        return "'";
      case '\\':
        return '\\';
      default:
        ok = false;
        return '';
    }
  });
  return ok ? out : undefined;
}
