/**
 * Structural (OpenAPI v3) and CEL validation of a whole Kubernetes object against a CRD version's
 * `openAPIV3Schema`, as the Kubernetes API server does it for Istio's CRDs, with Kubernetes'
 * messages and field paths. Ported from:
 *
 * - k8s.io/kube-openapi pkg/validation/validate (schema.go, type.go, object_validator.go,
 *   slice_validator.go, schema_props.go, validator.go, values.go, formats.go) and
 *   pkg/validation/errors/schema.go for the keyword checks and their wording;
 * - k8s.io/apiextensions-apiserver pkg/apiserver/validation/validation.go
 *   (kubeOpenAPIResultToFieldErrors) for turning them into field errors;
 * - pkg/apiserver/schema/pruning/algorithm.go (unknown fields, as strict field validation
 *   reports them), pkg/apiserver/schema/listtype/validation.go (list sets and maps),
 *   pkg/registry/customresource/strategy.go (CEL runs only without blocking errors);
 * - k8s.io/apimachinery pkg/api/validation/objectmeta.go for `metadata`.
 *
 * Every schema is compiled once (cached per schema object), patterns included.
 */
import type { JsonSchema } from '../kinds.js';
import type { PathSegment } from '../load/resource.js';
import { compileRe2, type Re2Pattern } from '../util/regex.js';
import { clipShown, goFloat, quoteValue, showValue } from './go-compat.js';
import {
  CelValueConverter,
  compileCelRule,
  evaluateCelRule,
  parseRuleFieldPath,
  RUNTIME_CEL_COST_BUDGET,
  type CelBudget,
  type CelTypeInfo,
  type CompiledCelRule,
  type FieldPathStep,
  type XValidation,
} from './cel.js';

export type SchemaReport = (path: PathSegment[], message: string) => void;

export interface SchemaValidationOptions {
  /**
   * Drop `null` values of non-nullable fields before validating, as the API server's decoder
   * does (customresource_handler.go: PruneNonNullableNullsWithoutDefaults). Off by default:
   * Istio's own CRD validator (pkg/config/crd/validator.go) and its test corpus report such
   * nulls as type errors (`spec.url in body must be of type string: "null"`).
   */
  pruneNulls?: boolean;
}

/**
 * Validates a whole document (apiVersion, kind, metadata, spec, status) against `schema`,
 * reporting each error with its field path and Kubernetes' message.
 */
export function validateSchema(value: unknown, schema: JsonSchema, report: SchemaReport, options: SchemaValidationOptions = {}): void {
  // YAML anchors can make a document refer to itself; Kubernetes' YAML-to-JSON conversion
  // refuses that, and every walk below would recurse forever.
  const shape = shapeProblem(value, [], new Set());
  if (shape) {
    report(shape.path, shape.message);
    return;
  }
  const root = compileSchema(schema);
  const doc = options.pruneNulls ? pruneNonNullableNulls(value, root) : value;
  const findings: Finding[] = [];
  const add = (f: Finding): void => {
    findings.push(f);
  };

  if (isObject(doc)) validateObjectMeta(doc, add);
  const result = new Result();
  validateNode(root, doc, null, result);
  if (result.errors) for (const e of result.errors) add(e);
  walkStructural(root, doc, null, false, true, add);

  if (root.hasCel) {
    // strategy.go: hasBlockingErr — CEL needs values of the declared types and sizes.
    if (findings.some((f) => f.blocking)) {
      add({ path: null, extra: [], message: '<nil>: Invalid value: null: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation', blocking: false });
    } else {
      const ctx: CelContext = { converter: new CelValueConverter(), budget: { remaining: RUNTIME_CEL_COST_BUDGET }, stopped: false, add };
      walkCel(root, root, doc, null, ctx, true);
    }
  }

  const seen = new Set<string>();
  for (const f of findings) {
    if (seen.has(f.message)) continue;
    seen.add(f.message);
    report([...segmentsOf(f.path), ...f.extra], f.message);
  }
}

/** Deeper than any Istio resource (the loader refuses more than 64 levels of text). */
const MAX_DEPTH = 512;

function shapeProblem(v: unknown, path: PathSegment[], ancestors: Set<object>): { path: PathSegment[]; message: string } | undefined {
  if (v === null || typeof v !== 'object' || v instanceof Date) return undefined;
  if (ancestors.has(v)) return { path: [...path], message: 'error converting YAML to JSON: yaml: anchor value contains itself' };
  if (path.length > MAX_DEPTH) return { path: [...path], message: `nesting deeper than ${MAX_DEPTH} levels` };
  ancestors.add(v);
  try {
    if (Array.isArray(v)) {
      for (let i = 0; i < v.length; i++) {
        path.push(i);
        const p = shapeProblem(v[i], path, ancestors);
        path.pop();
        if (p) return p;
      }
    } else {
      for (const [k, x] of Object.entries(v)) {
        path.push(k);
        const p = shapeProblem(x, path, ancestors);
        path.pop();
        if (p) return p;
      }
    }
  } finally {
    ancestors.delete(v);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Compiled schema nodes.

interface RuleAtNode {
  compiled: CompiledCelRule;
  /** The rule's `reason` (compiled rules are shared between nodes, reasons are not). */
  reason: string | undefined;
  /** The rule's `fieldPath`, resolved against this node; `undefined` when absent or invalid. */
  fieldPath: FieldPathStep[] | undefined;
}

/** Formats Kubernetes keeps for each type (apiextensions validation/formats.go). */
const SUPPORTED_STRING_FORMATS = new Set([
  'bsonobjectid', 'uri', 'email', 'hostname', 'ipv4', 'ipv6', 'cidr', 'mac', 'uuid', 'uuid3', 'uuid4', 'uuid5',
  'isbn', 'isbn10', 'isbn13', 'creditcard', 'ssn', 'hexcolor', 'rgbcolor', 'byte', 'password', 'date', 'duration',
  'datetime', 'k8s-short-name', 'k8s-long-name',
]);

// kube-openapi strfmt/default.go and govalidator patterns.go
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{4})$/;
const DATE_TIME_TAIL = /^([0-9]{2}):([0-9]{2}):([0-9]{2})(.[0-9]+)?(z|([+-][0-9]{2}:[0-9]{2}))$/;

/** Validators of the string formats the Istio CRDs use (kube-openapi strfmt). */
const STRING_FORMATS: ReadonlyMap<string, (s: string) => boolean> = new Map([
  ['byte', (s: string) => BASE64.test(s)],
  ['date', isDate],
  ['datetime', isDateTime],
  ['password', () => true],
]);

// strfmt/date.go: IsDate is time.Parse("2006-01-02").
function isDate(s: string): boolean {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(s);
  if (!m) return false;
  const year = Number(m[1]);
  const month = Number(m[2]);
  const day = Number(m[3]);
  if (month < 1 || month > 12 || day < 1) return false;
  const leap = (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1]!;
  return day <= days;
}

// strfmt/time.go: IsDateTime
function isDateTime(str: string): boolean {
  if (str.length < 4) return false;
  const s = str.toLowerCase().split('t');
  if (s.length < 2 || !isDate(s[0]!)) return false;
  const m = DATE_TIME_TAIL.exec(s[1]!);
  if (!m) return false;
  return m[1]! <= '23' && m[2]! <= '59' && m[3]! <= '59';
}

/** A schema compiled for validation: keywords resolved, pattern and CEL rules compiled. */
export class SchemaNode implements CelTypeInfo {
  readonly type: string;
  /** The OpenAPI type list (`["integer","string"]` for int-or-string). */
  readonly types: readonly string[];
  readonly typeName: string;
  readonly format: string;
  readonly stringFormat: ((s: string) => boolean) | null;
  readonly intOrString: boolean;
  readonly nullable: boolean;
  readonly preserveUnknown: boolean;
  readonly enumValues: readonly unknown[] | null;
  readonly enumDetail: string;
  readonly pattern: string | null;
  readonly patternRe: Re2Pattern | null;
  readonly patternError: string | null;
  readonly minLength: number | null;
  readonly maxLength: number | null;
  readonly minItems: number | null;
  readonly maxItems: number | null;
  readonly uniqueItems: boolean;
  readonly minProperties: number | null;
  readonly maxProperties: number | null;
  readonly minimum: number | null;
  readonly maximum: number | null;
  readonly exclusiveMinimum: boolean;
  readonly exclusiveMaximum: boolean;
  readonly multipleOf: number | null;
  /** numberValidator: type and format when the schema has exactly one numeric type. */
  readonly numberType: string;
  readonly numberFormat: string;
  readonly required: readonly string[];
  readonly properties: Map<string, SchemaNode> | null;
  readonly additional: SchemaNode | null;
  readonly additionalForbidden: boolean;
  readonly items: SchemaNode | null;
  readonly allOf: readonly SchemaNode[];
  readonly oneOf: readonly SchemaNode[];
  readonly anyOf: readonly SchemaNode[];
  readonly not: SchemaNode | null;
  readonly listType: string | null;
  readonly listMapKeys: readonly string[];
  readonly rules: readonly RuleAtNode[];
  /** This node, an allOf branch or a descendant carries CEL rules. */
  readonly hasCel: boolean;

  constructor(s: JsonSchema) {
    this.intOrString = s['x-kubernetes-int-or-string'] === true;
    this.type = typeof s.type === 'string' ? s.type : '';
    this.types = this.intOrString ? ['integer', 'string'] : this.type ? [this.type] : [];
    this.typeName = this.types.join(',');
    this.nullable = s.nullable === true;
    this.preserveUnknown = s['x-kubernetes-preserve-unknown-fields'] === true;
    this.format = supportedFormat(this.types, typeof s.format === 'string' ? s.format : '');
    this.stringFormat = STRING_FORMATS.get(this.format.replace(/-/g, '')) ?? null;
    this.enumValues = Array.isArray(s.enum) && s.enum.length > 0 ? s.enum : null;
    this.enumDetail = this.enumValues ? supportedValues(this.enumValues) : '';
    if (typeof s.pattern === 'string' && s.pattern !== '') {
      this.pattern = s.pattern;
      const re = compileRe2(s.pattern);
      this.patternRe = 'error' in re ? null : re;
      this.patternError = 'error' in re ? re.error : null;
    } else {
      this.pattern = null;
      this.patternRe = null;
      this.patternError = null;
    }
    this.minLength = num(s.minLength);
    this.maxLength = num(s.maxLength);
    this.minItems = num(s.minItems);
    this.maxItems = num(s.maxItems);
    this.uniqueItems = s.uniqueItems === true;
    this.minProperties = num(s.minProperties);
    this.maxProperties = num(s.maxProperties);
    this.minimum = num(s.minimum);
    this.maximum = num(s.maximum);
    this.exclusiveMinimum = s.exclusiveMinimum === true;
    this.exclusiveMaximum = s.exclusiveMaximum === true;
    this.multipleOf = num(s.multipleOf);
    const single = this.types.length === 1 ? this.types[0]! : '';
    this.numberType = single === 'integer' || single === 'number' ? single : '';
    this.numberFormat =
      single === 'integer' && (this.format === 'int32' || this.format === 'int64')
        ? this.format
        : single === 'number' && (this.format === 'float' || this.format === 'double')
          ? this.format
          : '';
    this.required = Array.isArray(s.required) ? s.required.filter((r): r is string => typeof r === 'string') : [];
    this.properties = s.properties ? new Map(Object.entries(s.properties).map(([k, v]) => [k, compileSchema(v)])) : null;
    this.additional = s.additionalProperties && typeof s.additionalProperties === 'object' ? compileSchema(s.additionalProperties) : null;
    this.additionalForbidden = s.additionalProperties === false;
    this.items = s.items && typeof s.items === 'object' && !Array.isArray(s.items) ? compileSchema(s.items) : null;
    this.allOf = (s.allOf ?? []).map(compileSchema);
    this.oneOf = (s.oneOf ?? []).map(compileSchema);
    this.anyOf = (s.anyOf ?? []).map(compileSchema);
    this.not = s.not ? compileSchema(s.not) : null;
    this.listType = typeof s['x-kubernetes-list-type'] === 'string' ? s['x-kubernetes-list-type'] : null;
    this.listMapKeys = s['x-kubernetes-list-map-keys'] ?? [];
    this.rules = (s['x-kubernetes-validations'] ?? []).map((r: XValidation) => ({
      compiled: compileCelRule(r),
      reason: r.reason,
      fieldPath: r.fieldPath ? parseRuleFieldPath(r.fieldPath, this) : undefined,
    }));
    let below = this.rules.length > 0;
    if (this.properties) for (const p of this.properties.values()) below ||= p.hasCel;
    below ||= (this.additional?.hasCel ?? false) || (this.items?.hasCel ?? false) || this.allOf.some((b) => b.hasCel);
    this.hasCel = below;
  }
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

// apiextensions validation/formats.go: StripUnsupportedFormatsPostProcessorForVersion
function supportedFormat(types: readonly string[], format: string): string {
  if (format === '') return '';
  const t = types.length === 1 ? types[0]! : '';
  switch (t) {
    case '':
    case 'string':
      return SUPPORTED_STRING_FORMATS.has(format.replace(/-/g, '')) ? format : '';
    case 'integer':
      return format === 'int32' || format === 'int64' ? format : '';
    case 'number':
      return format === 'float' || format === 'double' ? format : '';
    default:
      return '';
  }
}

// validation.go: kubeOpenAPIResultToFieldErrors, EnumFailCode → field.NotSupported
function supportedValues(values: readonly unknown[]): string {
  return 'supported values: ' + values.map((v) => quoteValue(typeof v === 'string' ? v : goJson(v))).join(', ');
}

const compiledSchemas = new WeakMap<JsonSchema, SchemaNode>();

/** The compiled form of a schema (cached per schema object, so each schema compiles once). */
export function compileSchema(schema: JsonSchema): SchemaNode {
  let node = compiledSchemas.get(schema);
  if (!node) {
    node = new SchemaNode(schema);
    compiledSchemas.set(schema, node);
  }
  return node;
}

// ---------------------------------------------------------------------------------------------
// Paths.

/** A position in the document: a property, a map key or a list index. */
interface PathNode {
  readonly parent: PathNode | null;
  readonly seg: string | number;
  /** true for a key of a map (additionalProperties), false for a declared property. */
  readonly key: boolean;
}

function child(parent: PathNode | null, name: string, key = false): PathNode {
  return { parent, seg: name, key };
}

function index(parent: PathNode | null, i: number): PathNode {
  return { parent, seg: i, key: false };
}

function segmentsOf(p: PathNode | null): PathSegment[] {
  const out: PathSegment[] = [];
  for (let n = p; n; n = n.parent) out.push(n.seg);
  return out.reverse();
}

/** kube-openapi's path: `spec.ports[0].name`, map keys after a dot (`spec.portLevelMtls.80`). */
function openapiPath(p: PathNode | null): string {
  if (!p) return '';
  const parent = openapiPath(p.parent);
  if (typeof p.seg === 'number') return `${parent}[${p.seg}]`;
  // Map keys (and unknown field names) come from the input: shown bounded and escaped.
  const seg = showValue(p.seg);
  if (p.key) return `${parent}.${seg}`;
  return parent === '' ? seg : `${parent}.${seg}`;
}

/** field.Path's rendering: `spec.portLevelMtls[80]`; `<nil>` for the root. */
function fieldPath(p: PathNode | null): string {
  if (!p) return '<nil>';
  const parts: string[] = [];
  for (let n: PathNode | null = p; n; n = n.parent) {
    const seg = typeof n.seg === 'number' ? String(n.seg) : showValue(n.seg);
    parts.push(typeof n.seg === 'number' || n.key ? `[${seg}]` : n.parent ? `.${seg}` : seg);
  }
  return parts.reverse().join('');
}

/** The field prefix of a kube-openapi error: errPath.Child(name), or `<nil>` when unnamed. */
function errPrefix(p: string): string {
  const trimmed = p.startsWith('.') ? p.slice(1) : p;
  return trimmed === '' ? '<nil>' : trimmed;
}

// ---------------------------------------------------------------------------------------------
// Findings.

interface Finding {
  path: PathNode | null;
  /** Segments after `path` (a rule's fieldPath). */
  extra: PathSegment[];
  message: string;
  /** Required, NotSupported, TooLong, TooMany or TypeInvalid: CEL does not run (strategy.go). */
  blocking: boolean;
}

/** kube-openapi validate.Result: errors (deduplicated by text) and the match count oneOf/anyOf use. */
class Result {
  errors: Finding[] | null = null;
  matchCount = 0;

  add(path: PathNode | null, message: string, blocking: boolean): void {
    const f: Finding = { path, extra: [], message, blocking };
    if (!this.errors) this.errors = [f];
    else if (!this.errors.some((e) => e.message === message)) this.errors.push(f);
  }

  merge(other: Result): void {
    if (other.errors) for (const e of other.errors) if (!this.errors?.some((x) => x.message === e.message)) (this.errors ??= []).push(e);
    this.matchCount += other.matchCount;
  }

  get valid(): boolean {
    return this.errors === null;
  }
}

// ---------------------------------------------------------------------------------------------
// kube-openapi SchemaValidator.

type Kind = 'null' | 'string' | 'number' | 'boolean' | 'array' | 'object' | 'other';

function kindOf(v: unknown): Kind {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'number') return 'number';
  if (typeof v === 'boolean') return 'boolean';
  if (Array.isArray(v)) return 'array';
  if (v instanceof Date) return 'string';
  if (typeof v === 'object') return 'object';
  return 'other';
}

/** A JSON number as Kubernetes decodes it: int64 when whole and in range, float64 otherwise. */
function isInt64(v: number): boolean {
  return Number.isInteger(v) && v >= -9223372036854775808 && v < 9223372036854775808;
}

// type.go: schemaInfoForType
function schemaInfo(v: unknown, kind: Kind): [string, string] {
  switch (kind) {
    case 'boolean':
      return ['boolean', ''];
    case 'string':
      return ['string', ''];
    case 'number':
      return isInt64(v as number) ? ['integer', 'int64'] : ['number', 'float64'];
    case 'array':
      return ['array', ''];
    default:
      return ['object', ''];
  }
}

// schema.go: SchemaValidator.Validate
function validateNode(node: SchemaNode, data: unknown, path: PathNode | null, res: Result): void {
  const kind = kindOf(data);
  if (kind === 'null') {
    validateType(node, data, kind, path, res);
    validateEnum(node, null, path, res);
    return;
  }
  const value = data instanceof Date ? data.toISOString() : data;
  if (node.types.length > 0 || node.format !== '') {
    validateType(node, value, kind, path, res);
    res.matchCount++;
  }
  validateSchemaProps(node, value, path, res);
  res.matchCount++;
  if (kind === 'string') {
    validateString(node, value as string, path, res);
    res.matchCount++;
    if (node.stringFormat) {
      if (!node.stringFormat(value as string)) {
        const p = openapiPath(path);
        res.add(path, `${errPrefix(p)}: Invalid value: ${quoteValue(value as string)}: ${p} in body must be of type ${node.format}: ${quoteValue(value as string)}`, true);
      }
      res.matchCount++;
    }
  }
  if (kind === 'number') {
    validateNumber(node, value as number, path, res);
    res.matchCount++;
  }
  if (kind === 'array') {
    validateSlice(node, value as unknown[], path, res);
    res.matchCount++;
  }
  validateEnum(node, value, path, res);
  res.matchCount++;
  if (kind === 'object') {
    validateObject(node, value as Record<string, unknown>, path, res);
    res.matchCount++;
  }
  res.matchCount++;
}

// type.go: typeValidator.Validate
function validateType(node: SchemaNode, data: unknown, kind: Kind, path: PathNode | null, res: Result): void {
  const types = node.types;
  if (kind === 'null') {
    if (types.length > 0 && !node.nullable) {
      const p = openapiPath(path);
      res.add(path, `${errPrefix(p)}: Invalid value: "null": ${p} in body must be of type ${node.typeName}: "null"`, true);
    } else res.matchCount++;
    return;
  }
  const [schType, format] = schemaInfo(data, kind);
  const isIntFloat = schType === 'integer' && types.includes('number');
  if (kind !== 'string' && kind !== 'array' && node.format !== '' && !(types.includes(schType) || format === node.format || isIntFloat)) {
    const p = openapiPath(path);
    res.add(path, `${errPrefix(p)}: Invalid value: ${quoteValue(format)}: ${p} in body must be of type ${node.format}: ${quoteValue(format)}`, true);
    return;
  }
  if (!(types.includes('number') || types.includes('integer')) && node.format !== '' && (kind === 'string' || kind === 'array')) {
    res.matchCount++;
    return;
  }
  if (!(types.includes(schType) || isIntFloat)) {
    const p = openapiPath(path);
    res.add(path, `${errPrefix(p)}: Invalid value: ${quoteValue(schType)}: ${p} in body must be of type ${node.typeName}: ${quoteValue(schType)}`, true);
    return;
  }
  res.matchCount++;
}

// schema_props.go: schemaPropsValidator.Validate
function validateSchemaProps(node: SchemaNode, data: unknown, path: PathNode | null, res: Result): void {
  if (node.anyOf.length > 0) {
    let best: Result | null = null;
    let firstSuccess: Result | null = null;
    let succeeded = false;
    for (const branch of node.anyOf) {
      const r = new Result();
      validateNode(branch, data, path, r);
      if (r.valid) {
        best = null;
        succeeded = true;
        firstSuccess ??= r;
        break;
      }
      if (!best || r.matchCount > best.matchCount) best = r;
    }
    if (!succeeded) res.add(path, `<nil>: Invalid value: "": ${quoteValue(openapiPath(path))} must validate at least one schema (anyOf)`, false);
    if (best) res.merge(best);
    else if (firstSuccess) res.merge(firstSuccess);
  }
  if (node.oneOf.length > 0) {
    let best: Result | null = null;
    let firstSuccess: Result | null = null;
    let validated = 0;
    for (const branch of node.oneOf) {
      const r = new Result();
      validateNode(branch, data, path, r);
      if (r.valid) {
        validated++;
        best = null;
        firstSuccess ??= r;
        continue;
      }
      if (validated === 0 && (!best || r.matchCount > best.matchCount)) best = r;
    }
    if (validated !== 1) {
      const detail = validated === 0 ? 'Found none valid' : `Found ${validated} valid alternatives`;
      res.add(path, `<nil>: Invalid value: "": ${quoteValue(openapiPath(path))} must validate one and only one schema (oneOf). ${detail}`, false);
      if (best) res.merge(best);
    } else if (firstSuccess) res.merge(firstSuccess);
  }
  if (node.allOf.length > 0) {
    let validated = 0;
    for (const branch of node.allOf) {
      const r = new Result();
      validateNode(branch, data, path, r);
      if (r.valid) validated++;
      res.merge(r);
    }
    if (validated !== node.allOf.length) {
      res.add(path, `<nil>: Invalid value: "": ${quoteValue(openapiPath(path))} must validate all the schemas (allOf)${validated === 0 ? '. None validated' : ''}`, false);
    }
  }
  if (node.not) {
    const r = new Result();
    validateNode(node.not, data, path, r);
    if (r.valid) res.add(path, `<nil>: Invalid value: "": ${quoteValue(openapiPath(path))} must not validate the schema (not)`, false);
  }
  res.matchCount++;
}

/** Length in Unicode code points (utf8.RuneCount). */
function runeCount(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

// validator.go: stringValidator.Validate — stops at the first failure.
function validateString(node: SchemaNode, s: string, path: PathNode | null, res: Result): void {
  if (node.maxLength !== null && s.length > node.maxLength && runeCount(s) > node.maxLength) {
    const p = openapiPath(path);
    res.add(path, `${errPrefix(p)}: Too long: may not be more than ${node.maxLength} ${node.maxLength === 1 ? 'byte' : 'bytes'}`, true);
    return;
  }
  if (node.minLength !== null && (s.length < node.minLength || runeCount(s) < node.minLength)) {
    const p = openapiPath(path);
    res.add(path, `${errPrefix(p)}: Invalid value: ${quoteValue(s)}: ${p} in body should be at least ${node.minLength} chars long`, false);
    return;
  }
  if (node.pattern !== null) {
    if (node.patternError !== null) {
      const p = openapiPath(path);
      res.add(path, `${errPrefix(p)}: Invalid value: ${quoteValue(s)}: ${p} in body should match '${node.pattern}, but pattern is invalid: ${node.patternError}'`, false);
    } else if (!node.patternRe!.search(s)) {
      const p = openapiPath(path);
      res.add(path, `${errPrefix(p)}: Invalid value: ${quoteValue(s)}: ${p} in body should match '${node.pattern}'`, false);
    }
  }
}

// values.go: IsValueValidAgainstRange; returns the error text, or undefined when in range.
function rangeError(v: number, typeName: string, format: string, prefix: string, path: PathNode | null): string | undefined {
  let ok = true;
  if (typeName === 'integer') {
    let lo: bigint;
    let hi: bigint;
    switch (format) {
      case 'int32':
        lo = -(2n ** 31n);
        hi = 2n ** 31n - 1n;
        break;
      case 'uint32':
        lo = 0n;
        hi = 2n ** 32n - 1n;
        break;
      case 'uint64':
        lo = 0n;
        hi = 2n ** 64n - 1n;
        break;
      default:
        lo = -(2n ** 63n);
        hi = 2n ** 63n - 1n;
    }
    ok = Number.isInteger(v) && (Number.isSafeInteger(v) ? v >= Number(lo) && v <= Number(hi) : BigInt(v) >= lo && BigInt(v) <= hi);
  } else if (format === 'float' || format === 'float32') {
    ok = Math.abs(v) <= 3.4028234663852886e38;
  }
  if (ok) return undefined;
  const p = openapiPath(path);
  return format !== '' ? `${prefix} value must be of type ${typeName} with format ${format} in ${p}` : `${prefix} value must be of type ${typeName} (default format) in ${p}`;
}

// validator.go: numberValidator.Validate
function validateNumber(node: SchemaNode, v: number, path: PathNode | null, res: Result): void {
  const isInt = isInt64(v);
  const checked = rangeError(v, node.numberType, node.numberFormat, 'Checked', path);
  if (checked) res.add(path, `<nil>: Invalid value: "": ${checked}`, false);
  if (node.multipleOf !== null) {
    const p = openapiPath(path);
    const prefix = errPrefix(p);
    const factor = node.multipleOf;
    const boundary = rangeError(factor, node.numberType, node.numberFormat, 'MultipleOf', path);
    if (boundary) res.add(path, `<nil>: Invalid value: "": ${boundary}`, false);
    if (!boundary && isInt) {
      const f = Math.trunc(factor);
      if (f <= 0) res.add(path, `${prefix}: Invalid value: ${f}: factor MultipleOf declared for ${p} must be positive: ${f}`, false);
      else if (BigInt(v) % BigInt(f) !== 0n) res.add(path, `${prefix}: Invalid value: ${goValue(v)}: ${p} in body should be a multiple of ${f}`, false);
    } else if (factor <= 0) {
      res.add(path, `${prefix}: Invalid value: ${goFloat(factor)}: factor MultipleOf declared for ${p} must be positive: ${goFloat(factor)}`, false);
    } else {
      const mult = factor < 1 ? (1 / factor) * v : v / factor;
      if (!isJsonInteger(mult)) res.add(path, `${prefix}: Invalid value: ${goValue(v)}: ${p} in body should be a multiple of ${goFloat(factor)}`, false);
    }
  }
  if (node.minimum !== null) {
    const min = node.minimum;
    const boundary = rangeError(min, node.numberType, node.numberFormat, 'Minimum boundary', path);
    if (boundary) res.add(path, `<nil>: Invalid value: "": ${boundary}`, false);
    const useInt = !boundary && isInt;
    const bound = useInt ? Math.trunc(min) : min;
    if (node.exclusiveMinimum ? v <= bound : v < bound) {
      const p = openapiPath(path);
      const shown = useInt ? String(bound) : goFloat(bound);
      res.add(path, `${errPrefix(p)}: Invalid value: ${goValue(v)}: ${p} in body should be greater than ${node.exclusiveMinimum ? '' : 'or equal to '}${shown}`, false);
    }
  }
  if (node.maximum !== null) {
    const max = node.maximum;
    const boundary = rangeError(max, node.numberType, node.numberFormat, 'Maximum boundary', path);
    if (boundary) res.add(path, `<nil>: Invalid value: "": ${boundary}`, false);
    const useInt = !boundary && isInt;
    const bound = useInt ? Math.trunc(max) : max;
    if (node.exclusiveMaximum ? v >= bound : v > bound) {
      const p = openapiPath(path);
      const shown = useInt ? String(bound) : goFloat(bound);
      res.add(path, `${errPrefix(p)}: Invalid value: ${goValue(v)}: ${p} in body should be less than ${node.exclusiveMaximum ? '' : 'or equal to '}${shown}`, false);
    }
  }
  res.matchCount++;
}

// swag.IsFloat64AJSONInteger
function isJsonInteger(f: number): boolean {
  if (!Number.isFinite(f) || Math.abs(f) > 2 ** 53 - 1) return false;
  return Number.isInteger(f) || Math.abs(f - Math.round(f)) < 1e-9 * Math.max(1, Math.abs(f));
}

// slice_validator.go: schemaSliceValidator.Validate
function validateSlice(node: SchemaNode, data: unknown[], path: PathNode | null, res: Result): void {
  if (node.items) {
    for (let i = 0; i < data.length; i++) validateNode(node.items, data[i], index(path, i), res);
  }
  if (node.minItems !== null && data.length < node.minItems) {
    const p = openapiPath(path);
    res.add(path, `${errPrefix(p)}: Invalid value: ${data.length}: ${p} in body should have at least ${node.minItems} items`, false);
  }
  if (node.maxItems !== null && data.length > node.maxItems) {
    res.add(path, `${errPrefix(openapiPath(path))}: Too many: ${data.length}: must have at most ${node.maxItems} ${node.maxItems === 1 ? 'item' : 'items'}`, true);
  }
  if (node.uniqueItems) {
    const seen = new Set<string>();
    for (const v of data) {
      const k = goJson(v);
      if (seen.has(k)) {
        const p = openapiPath(path);
        res.add(path, `${errPrefix(p)}: Invalid value: "": ${p} in body shouldn't contain duplicates`, false);
        break;
      }
      seen.add(k);
    }
  }
  res.matchCount++;
}

// validator.go: basicCommonValidator.Validate (enum)
function validateEnum(node: SchemaNode, data: unknown, path: PathNode | null, res: Result): void {
  const values = node.enumValues;
  if (!values) return;
  for (const ev of values) if (enumMatches(data, ev)) return;
  const p = openapiPath(path);
  res.add(path, `${errPrefix(p)}: Unsupported value: ${goValue(data)}: ${node.enumDetail}`, true);
}

/** reflect's ConvertibleTo + DeepEqual between a decoded value and an enum value. */
function enumMatches(data: unknown, ev: unknown): boolean {
  if (data === null || data === undefined || ev === null || ev === undefined) return false;
  if (typeof ev === 'string') {
    if (typeof data === 'string') return data === ev;
    // Go converts an int64 to string as the rune it encodes (reflect cvtIntString).
    if (typeof data === 'number' && isInt64(data)) {
      const r = data >= 0 && data <= 0x10ffff && !(data >= 0xd800 && data <= 0xdfff) ? String.fromCodePoint(data) : '\uFFFD';
      return r === ev;
    }
    return false;
  }
  if (typeof ev === 'number') return typeof data === 'number' && data === ev;
  if (typeof ev === 'boolean') return data === ev;
  if (typeof ev === 'object') return typeof data === 'object' && Array.isArray(data) === Array.isArray(ev) && goJson(data) === goJson(ev);
  return false;
}

// object_validator.go: objectValidator.Validate
function validateObject(node: SchemaNode, data: Record<string, unknown>, path: PathNode | null, res: Result): void {
  const keys = Object.keys(data);
  if (node.minProperties !== null && keys.length < node.minProperties) {
    const p = openapiPath(path);
    res.add(path, `${errPrefix(p)}: Invalid value: ${keys.length}: ${p} in body should have at least ${node.minProperties} properties`, false);
  }
  if (node.maxProperties !== null && keys.length > node.maxProperties) {
    res.add(path, `${errPrefix(openapiPath(path))}: Too many: ${keys.length}: must have at most ${node.maxProperties} ${node.maxProperties === 1 ? 'item' : 'items'}`, true);
  }
  const props = node.properties;
  if (node.additionalForbidden) {
    for (const k of keys) {
      if (props?.has(k)) continue;
      const p = openapiPath(path);
      res.add(path, `${errPrefix(p)}: Invalid value: ${quoteValue(k)}: ${p}.${showValue(k)} in body is a forbidden property`, false);
    }
  } else if (node.additional) {
    for (const k of keys) if (!props?.has(k)) validateNode(node.additional, data[k], child(path, k, true), res);
  }
  if (props) {
    for (const k of keys) {
      const prop = props.get(k);
      if (prop) validateNode(prop, data[k], child(path, k), res);
    }
  }
  for (const r of node.required) {
    if (!Object.hasOwn(data, r)) res.add(child(path, r), `${errPrefix(`${openapiPath(path)}.${r}`)}: Required value`, true);
  }
}

// ---------------------------------------------------------------------------------------------
// Unknown fields (pruning/algorithm.go) and list sets / maps (listtype/validation.go).

const META_FIELDS = new Set(['apiVersion', 'kind', 'metadata']);

function walkStructural(node: SchemaNode | null, data: unknown, path: PathNode | null, skip: boolean, root: boolean, add: (f: Finding) => void): void {
  const preserve = skip || (node?.preserveUnknown ?? false);
  if (Array.isArray(data)) {
    if (node?.listType === 'set' || node?.listType === 'map') validateListType(node, data, path, add);
    if (preserve) {
      if (!node) return;
      for (let i = 0; i < data.length; i++) walkStructural(node.items, data[i], index(path, i), true, false, add);
    } else {
      for (let i = 0; i < data.length; i++) walkStructural(node?.items ?? null, data[i], index(path, i), false, false, add);
    }
    return;
  }
  if (!isObject(data)) return;
  if (preserve && !node) return;
  for (const k of Object.keys(data)) {
    if (root && META_FIELDS.has(k)) continue;
    const prop = node?.properties?.get(k);
    if (prop) walkStructural(prop, data[k], child(path, k), false, false, add);
    else if (node?.additional) walkStructural(node.additional, data[k], child(path, k, true), false, false, add);
    else if (!preserve) {
      const at = child(path, k);
      add({ path: at, extra: [], message: `unknown field ${quoteValue(openapiPath(at))}`, blocking: false });
    }
  }
}

/** Go's map-key equality for decoded scalars; JSON text for lists and objects. */
function setKey(v: unknown): string {
  if (v !== null && typeof v === 'object') return 'c' + goJson(v);
  return 's' + (typeof v) + ':' + String(v);
}

// listtype/validation.go: validateListSet — indexes of the second occurrence of each value.
function duplicateIndexes(keys: readonly string[]): number[] {
  if (keys.length <= 1) return [];
  const times = new Map<string, number>();
  const out: number[] = [];
  keys.forEach((k, i) => {
    const n = times.get(k) ?? 0;
    if (n === 1) out.push(i);
    times.set(k, n + 1);
  });
  return out;
}

/** A list-map item without its key field (listtype: unspecifiedKeyValue). */
const UNSPECIFIED = Symbol('unspecified key');

function validateListType(node: SchemaNode, data: unknown[], path: PathNode | null, add: (f: Finding) => void): void {
  if (node.listType === 'set') {
    for (const i of duplicateIndexes(data.map(setKey))) {
      const at = index(path, i);
      add({ path: at, extra: [], message: `${fieldPath(at)}: Duplicate value: ${goValue(data[i])}`, blocking: false });
    }
    return;
  }
  // validateListMap
  for (let i = 0; i < data.length; i++) {
    const x = data[i];
    if (x !== null && x !== undefined && !isObject(x)) {
      const at = index(path, i);
      add({ path: at, extra: [], message: `${fieldPath(at)}: Invalid value: ${goValue(x)}: must be an object for an array of list-type map`, blocking: false });
      return;
    }
  }
  if (data.length <= 1) return;
  const mapKeys = node.listMapKeys;
  if (mapKeys.length === 1) {
    const keyField = mapKeys[0]!;
    const keys = data.map((x) => (isObject(x) && Object.hasOwn(x, keyField) ? x[keyField] : UNSPECIFIED));
    for (const i of duplicateIndexes(keys.map((k) => (k === UNSPECIFIED ? 'u' : setKey(k))))) {
      const at = index(path, i);
      const k = keys[i];
      const shown = k === UNSPECIFIED ? '{}' : clipShown(goJson({ [keyField]: k }));
      add({ path: at, extra: [], message: `${fieldPath(at)}: Duplicate value: ${shown}`, blocking: false });
    }
    return;
  }
  const keyObjs = data.map((x) => {
    const key: Record<string, unknown> = {};
    if (isObject(x)) for (const f of mapKeys) if (Object.hasOwn(x, f)) key[f] = x[f];
    return key;
  });
  for (const i of duplicateIndexes(keyObjs.map(setKey))) {
    const at = index(path, i);
    add({ path: at, extra: [], message: `${fieldPath(at)}: Duplicate value: ${clipShown(goJson(keyObjs[i]))}`, blocking: false });
  }
}

// ---------------------------------------------------------------------------------------------
// CEL (schema/cel/validation.go: Validator.validate).

interface CelContext {
  converter: CelValueConverter;
  budget: CelBudget;
  stopped: boolean;
  add: (f: Finding) => void;
}

/**
 * Runs the rules of `celNode` (the node itself or one of its allOf branches) on `data`, typed by
 * `typeNode`, then descends into the children present in the data.
 */
function walkCel(celNode: SchemaNode, typeNode: SchemaNode, data: unknown, path: PathNode | null, ctx: CelContext, root: boolean): void {
  if (ctx.stopped || !celNode.hasCel || data === null || data === undefined) return;
  if (celNode.rules.length > 0) {
    const self = ctx.converter.convert(data, typeNode, root);
    const size = ctx.converter.collectionSize(self);
    const type = quoteValue(typeNode.type);
    for (const { compiled, reason, fieldPath: steps } of celNode.rules) {
      const outcome = evaluateCelRule(compiled, self, size, ctx.budget);
      if (outcome.kind === 'pass' || outcome.kind === 'skip') continue;
      if (outcome.kind === 'error') {
        ctx.add({ path, extra: [], message: `${fieldPath(path)}: Invalid value: ${type}: ${outcome.detail}`, blocking: false });
        if (outcome.stop) {
          ctx.stopped = true;
          return;
        }
        continue;
      }
      let at = fieldPath(path);
      const extra: PathSegment[] = [];
      if (steps && steps.length > 0) {
        let normalized = '';
        steps.forEach((s, i) => {
          normalized += s.named ? (i === 0 ? s.name : `.${s.name}`) : `[${s.name}]`;
          extra.push(s.name);
        });
        at = path ? `${at}.${normalized}` : normalized;
      }
      ctx.add({ path, extra, message: celFailure(at, type, outcome.detail, reason), blocking: false });
    }
  }
  for (const branch of celNode.allOf) {
    if (ctx.stopped) return;
    if (branch.hasCel) walkCel(branch, typeNode, data, path, ctx, root);
  }
  if (Array.isArray(data)) {
    const items = celNode.items;
    if (!items?.hasCel) return;
    for (let i = 0; i < data.length && !ctx.stopped; i++) walkCel(items, typeNode.items ?? items, data[i], index(path, i), ctx, false);
    return;
  }
  if (!isObject(data)) return;
  const additional = celNode.additional;
  if (additional?.hasCel) {
    for (const k of Object.keys(data)) {
      if (ctx.stopped) return;
      walkCel(additional, typeNode.additional ?? additional, data[k], child(path, k, true), ctx, false);
    }
  }
  const props = celNode.properties;
  if (props) {
    for (const k of Object.keys(data)) {
      if (ctx.stopped) return;
      const prop = props.get(k);
      if (prop?.hasCel) walkCel(prop, typeNode.properties?.get(k) ?? prop, data[k], child(path, k), ctx, false);
    }
  }
}

/**
 * validation.go: fieldErrorForReason. The value shown is the schema type (`"object"`,
 * `"integer"`), as Kubernetes up to 1.34 prints it and as Istio's test corpus expects.
 */
function celFailure(at: string, type: string, detail: string, reason: string | undefined): string {
  switch (reason) {
    case 'FieldValueForbidden':
      return `${at}: Forbidden: ${detail}`;
    case 'FieldValueRequired':
      return `${at}: Required value: ${detail}`;
    case 'FieldValueDuplicate':
      return `${at}: Duplicate value: ${type}`;
    default:
      return `${at}: Invalid value: ${type}: ${detail}`;
  }
}

// ---------------------------------------------------------------------------------------------
// metadata (apimachinery api/validation/objectmeta.go, util/validation/validation.go).

/** Go types of ObjectMeta's JSON fields, for decoding errors and unknown-field detection. */
const OBJECT_META: Readonly<Record<string, string>> = {
  name: 'string',
  generateName: 'string',
  namespace: 'string',
  selfLink: 'string',
  uid: 'types.UID',
  resourceVersion: 'string',
  generation: 'int64',
  creationTimestamp: 'v1.Time',
  deletionTimestamp: 'v1.Time',
  deletionGracePeriodSeconds: 'int64',
  labels: 'map[string]string',
  annotations: 'map[string]string',
  ownerReferences: '[]v1.OwnerReference',
  finalizers: '[]string',
  managedFields: '[]v1.ManagedFieldsEntry',
};

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_KEY_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const TOTAL_ANNOTATION_SIZE = 256 * 1024;

// validation.go: RegexError
function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (examples.length === 0) return `${msg} (regex used for validation is '${fmt}')`;
  return `${msg} (e.g. ${examples.map((e) => `'${e}', `).join(' or ')}regex used for validation is '${fmt}')`;
}

const SUBDOMAIN_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*';
const LABEL_FMT = '[a-z0-9]([-a-z0-9]*[a-z0-9])?';
const LABEL_KEY_FMT = '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]';
const LABEL_KEY_MSG = "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

// validation.go: IsDNS1123Subdomain
function dns1123SubdomainErrors(v: string): string[] {
  const errs: string[] = [];
  if (Buffer.byteLength(v, 'utf8') > 253) errs.push('must be no more than 253 characters');
  if (!DNS1123_SUBDOMAIN.test(v)) {
    errs.push(regexError("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character", SUBDOMAIN_FMT, 'example.com'));
  }
  return errs;
}

// validation.go: IsDNS1123Label
function dns1123LabelErrors(v: string): string[] {
  const errs: string[] = [];
  if (Buffer.byteLength(v, 'utf8') > 63) errs.push('must be no more than 63 characters');
  if (!DNS1123_LABEL.test(v)) {
    if (DNS1123_SUBDOMAIN.test(v)) errs.push('must not contain dots');
    else errs.push(regexError("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character", LABEL_FMT, 'my-name', '123-abc'));
  }
  return errs;
}

const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL_FMT = '[a-z]([-a-z0-9]*[a-z0-9])?';

// validation.go: IsDNS1035Label
function dns1035LabelErrors(v: string): string[] {
  const errs: string[] = [];
  if (Buffer.byteLength(v, 'utf8') > 63) errs.push('must be no more than 63 characters');
  if (!DNS1035_LABEL.test(v)) {
    errs.push(regexError("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character", DNS1035_LABEL_FMT, 'my-name', 'abc-123'));
  }
  return errs;
}

// time.Parse(time.RFC3339, v), as metav1.Time decodes: `2006-01-02T15:04:05[.frac](Z|±hh:mm)`, every field in range.
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d+)?(Z|[+-](\d{2}):(\d{2}))$/;

function isRfc3339(v: string): boolean {
  const m = RFC3339.exec(v);
  if (!m) return false;
  const [year, month, day, hour, minute, second] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const days = [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1];
  if (days === undefined || day < 1 || day > days || hour > 23 || minute > 59 || second > 59) return false;
  return m[9] === undefined || (Number(m[9]) <= 23 && Number(m[10]) <= 59);
}

/** Kubernetes' label rules (validation.go: ValidateLabels) for a label map such as a Service's `spec.selector`. */
export function labelErrors(labels: Record<string, unknown>): { key: string; message: string }[] {
  const out: { key: string; message: string }[] = [];
  for (const [k, v] of Object.entries(labels)) {
    for (const m of qualifiedNameErrors(k)) out.push({ key: k, message: `Invalid value: ${quoteValue(k)}: ${m}` });
    if (typeof v !== 'string') out.push({ key: k, message: `Invalid value: ${goValue(v)}: must be a string` });
    else for (const m of labelValueErrors(v)) out.push({ key: k, message: `Invalid value: ${quoteValue(v)}: ${m}` });
  }
  return out;
}

// content/kube.go: IsLabelKey (IsQualifiedName)
function qualifiedNameErrors(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split('/');
  let name: string;
  if (parts.length === 1) name = parts[0]!;
  else if (parts.length === 2) {
    const prefix = parts[0]!;
    name = parts[1]!;
    if (prefix.length === 0) errs.push('prefix part must be non-empty');
    else for (const m of dns1123SubdomainErrors(prefix)) errs.push(`prefix part ${m}`);
  } else {
    return [`a valid label key ${regexError(LABEL_KEY_MSG, LABEL_KEY_FMT, 'MyName', 'my.name', '123-abc')} with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`];
  }
  if (name.length === 0) errs.push('name part must be non-empty');
  else if (Buffer.byteLength(name, 'utf8') > 63) errs.push('name part must be no more than 63 characters');
  if (!LABEL_KEY_NAME.test(name)) errs.push(`name part ${regexError(LABEL_KEY_MSG, LABEL_KEY_FMT, 'MyName', 'my.name', '123-abc')}`);
  return errs;
}

// content/kube.go: IsLabelValue
function labelValueErrors(value: string): string[] {
  const errs: string[] = [];
  if (Buffer.byteLength(value, 'utf8') > 63) errs.push('must be no more than 63 characters');
  if (!LABEL_VALUE.test(value)) {
    errs.push(regexError("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character", `(${LABEL_KEY_FMT})?`, 'MyValue', 'my_value', '12345'));
  }
  return errs;
}

function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'object') return 'object';
  return typeof v;
}

/** True when `v` decodes into a Go value of `goType` (null decodes into anything). */
function decodesAs(v: unknown, goType: string): boolean {
  if (v === null || v === undefined) return true;
  switch (goType) {
    case 'string':
    case 'types.UID':
      return typeof v === 'string';
    case 'int64':
      return typeof v === 'number' && isInt64(v);
    case 'v1.Time':
      return typeof v === 'string' || v instanceof Date;
    case 'map[string]string':
      return isObject(v);
    default:
      return Array.isArray(v);
  }
}

/**
 * How a kind's `metadata.name` is checked (objectmeta.go's nameFn): a DNS-1123 subdomain for
 * custom resources (NameIsDNSSubdomain, every Istio kind), a DNS-1035 label for a Service
 * (core/validation: ValidateServiceName).
 */
export type NameRule = 'dns1123-subdomain' | 'dns1035-label';

/**
 * Kubernetes' ObjectMeta validation on its own, for a document without a CRD schema (a
 * Kubernetes Service): decoding (types of every field, `resourceVersion` a string,
 * `creationTimestamp` RFC 3339, no unknown fields), then name, generateName, namespace (a
 * DNS-1123 label), labels (qualified names, label values) and annotations. `validateSchema`
 * runs the same checks, with the DNS-1123 subdomain rule, on every Istio kind.
 */
export function validateObjectMetadata(doc: unknown, report: SchemaReport, options: { name?: NameRule } = {}): void {
  const findings: Finding[] = [];
  if (isObject(doc)) validateObjectMeta(doc, (f) => findings.push(f), options.name === 'dns1035-label' ? dns1035LabelErrors : dns1123SubdomainErrors);
  const seen = new Set<string>();
  for (const f of findings) {
    if (seen.has(f.message)) continue;
    seen.add(f.message);
    report([...segmentsOf(f.path), ...f.extra], f.message);
  }
}

// objectmeta.go: ValidateObjectMetaAccessor, with the decoding of metadata before it.
function validateObjectMeta(doc: Record<string, unknown>, add: (f: Finding) => void, nameErrors: (v: string) => string[] = dns1123SubdomainErrors): void {
  const md = doc.metadata;
  const metaPath = child(null, 'metadata');
  const err = (path: PathNode, message: string, blocking: boolean): void => add({ path, extra: [], message, blocking });
  if (md === undefined || md === null) {
    err(child(metaPath, 'name'), 'metadata.name: Required value: name or generateName is required', true);
    return;
  }
  if (!isObject(md)) {
    err(metaPath, `json: cannot unmarshal ${jsonKind(md)} into Go value of type v1.ObjectMeta`, true);
    return;
  }
  let decodable = true;
  for (const [k, v] of Object.entries(md)) {
    const goType = OBJECT_META[k];
    const at = child(metaPath, k);
    if (goType === undefined) {
      err(at, `unknown field ${quoteValue(`metadata.${k}`)}`, false);
      continue;
    }
    if (!decodesAs(v, goType)) {
      err(at, `json: cannot unmarshal ${jsonKind(v)} into Go struct field ObjectMeta.${k} of type ${goType}`, true);
      decodable = false;
      continue;
    }
    if (goType === 'v1.Time' && typeof v === 'string' && !isRfc3339(v)) {
      // metav1.Time.UnmarshalJSON: time.Parse(time.RFC3339, ...).
      err(at, `metadata.${k}: Invalid value: ${quoteValue(v)}: must be an RFC 3339 time such as "2024-05-01T12:00:00Z"`, true);
      decodable = false;
      continue;
    }
    if (goType === 'map[string]string' && isObject(v)) {
      for (const [mk, mv] of Object.entries(v)) {
        if (mv !== null && typeof mv !== 'string') {
          err(child(at, mk, true), `json: cannot unmarshal ${jsonKind(mv)} into Go struct field ObjectMeta.${k} of type string`, true);
          decodable = false;
        }
      }
    }
    if (goType === '[]string' && Array.isArray(v)) {
      v.forEach((x, i) => {
        if (x !== null && typeof x !== 'string') {
          err(index(at, i), `json: cannot unmarshal ${jsonKind(x)} into Go struct field ObjectMeta.${k} of type string`, true);
          decodable = false;
        }
      });
    }
  }
  if (!decodable) return;

  const str = (v: unknown): string => (typeof v === 'string' ? v : '');
  const name = str(md.name);
  const generateName = str(md.generateName);
  if (generateName !== '') {
    // NameIsDNSSubdomain with prefix: a trailing dash is allowed (maskTrailingDash).
    const masked = generateName.length > 1 && generateName.endsWith('-') ? generateName.slice(0, -1) + 'a' : generateName;
    for (const m of nameErrors(masked)) err(child(metaPath, 'generateName'), `metadata.generateName: Invalid value: ${quoteValue(generateName)}: ${m}`, false);
  }
  if (name === '') {
    // The API server generates the name from generateName before validating.
    if (generateName === '') err(child(metaPath, 'name'), 'metadata.name: Required value: name or generateName is required', true);
  } else {
    for (const m of nameErrors(name)) err(child(metaPath, 'name'), `metadata.name: Invalid value: ${quoteValue(name)}: ${m}`, false);
  }
  const namespace = str(md.namespace);
  if (namespace !== '') {
    for (const m of dns1123LabelErrors(namespace)) err(child(metaPath, 'namespace'), `metadata.namespace: Invalid value: ${quoteValue(namespace)}: ${m}`, false);
  }
  if (typeof md.generation === 'number' && md.generation < 0) {
    err(child(metaPath, 'generation'), `metadata.generation: Invalid value: ${md.generation}: must be greater than or equal to 0`, false);
  }
  if (isObject(md.labels)) {
    const at = child(metaPath, 'labels');
    for (const [k, v] of Object.entries(md.labels)) {
      for (const m of qualifiedNameErrors(k)) err(child(at, k, true), `metadata.labels: Invalid value: ${quoteValue(k)}: ${m}`, false);
      for (const m of labelValueErrors(str(v))) err(child(at, k, true), `metadata.labels: Invalid value: ${quoteValue(str(v))}: ${m}`, false);
    }
  }
  if (isObject(md.annotations)) {
    const at = child(metaPath, 'annotations');
    let total = 0;
    for (const [k, v] of Object.entries(md.annotations)) {
      total += Buffer.byteLength(k, 'utf8') + Buffer.byteLength(str(v), 'utf8');
      for (const m of qualifiedNameErrors(k.toLowerCase())) err(child(at, k, true), `metadata.annotations: Invalid value: ${quoteValue(k)}: ${m}`, false);
    }
    if (total > TOTAL_ANNOTATION_SIZE) err(at, `metadata.annotations: Too long: may not be more than ${TOTAL_ANNOTATION_SIZE} bytes`, true);
  }
}

// ---------------------------------------------------------------------------------------------
// Nulls (defaulting/prunenulls.go), copy-on-write.

function pruneNonNullableNulls(x: unknown, node: SchemaNode | null): unknown {
  if (Array.isArray(x)) {
    let out: unknown[] | null = null;
    const items = node?.items ?? null;
    for (let i = 0; i < x.length; i++) {
      const v = pruneNonNullableNulls(x[i], items);
      if (v !== x[i]) (out ??= x.slice())[i] = v;
    }
    return out ?? x;
  }
  if (!isObject(x)) return x;
  let out: Record<string, unknown> | null = null;
  for (const [k, v] of Object.entries(x)) {
    const s = node ? (node.properties?.get(k) ?? node.additional) : null;
    if ((v === null || v === undefined) && s && !s.nullable) {
      out ??= { ...x };
      delete out[k];
      continue;
    }
    const pruned = pruneNonNullableNulls(v, s);
    // defineProperty: a key named `__proto__` stays an own property.
    if (pruned !== v) Object.defineProperty((out ??= { ...x }), k, { value: pruned, writable: true, enumerable: true, configurable: true });
  }
  return out ?? x;
}

// ---------------------------------------------------------------------------------------------
// Go value rendering (fmt %q / %v, encoding/json), as Kubernetes' messages show values.

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date);
}

/** encoding/json Marshal: sorted object keys, HTML-safe escaping. */
export function goJson(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return goJsonString(v);
  if (typeof v === 'number') return Number.isFinite(v) ? JSON.stringify(v) : 'null';
  if (typeof v === 'boolean') return String(v);
  if (typeof v === 'bigint') return v.toString();
  if (v instanceof Date) return goJsonString(v.toISOString());
  if (Array.isArray(v)) return `[${v.map(goJson).join(',')}]`;
  if (typeof v === 'object') {
    const keys = Object.keys(v).sort();
    return `{${keys.map((k) => `${goJsonString(k)}:${goJson((v as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return 'null';
}

function goJsonString(s: string): string {
  return JSON.stringify(s).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** field.Error's rendering of a bad value (ErrorBody). */
export function goValue(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'string') return quoteValue(v);
  if (typeof v === 'number') return isInt64(v) ? BigInt(v).toString() : goFloat(v);
  if (typeof v === 'boolean') return String(v);
  return clipShown(goJson(v));
}
