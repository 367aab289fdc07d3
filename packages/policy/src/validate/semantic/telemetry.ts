/**
 * Telemetry semantic validation, ported from istio/istio pkg/config/validation/validation.go
 * (ValidateTelemetry, validateTelemetryMetrics, validateTelemetryTracing,
 * validateTelemetryAccessLogging, validateTelemetryProviders) and validation_istiod.go
 * (validateTelemetryFilter, which only parses the CEL expression, without type checking).
 */
import { parse as parseCel } from '@marcbachmann/cel-js';
import type { Reporter, SemanticValidator } from '../types.js';
import {
  enumName, isObject, msg, msgList, num, type Obj, oneofWinner, type Path, str, validateMetadata,
  validatePolicySelection,
} from './common.js';

const TAG_OPERATIONS = ['UPSERT', 'REMOVE'] as const;
// Tracing.CustomTag oneof `type`, in declaration order (telemetry.proto).
const CUSTOM_TAG_TYPES = ['literal', 'environment', 'header', 'formatter'] as const;
// MetricSelector oneof `metric_match`, in declaration order.
const METRIC_MATCH = ['metric', 'customMetric'] as const;

/** validation.go: ValidateTelemetry. */
export const validateTelemetry: SemanticValidator = (spec, ctx) => {
  const s: Obj = isObject(spec) ? spec : {};
  const report = ctx.report;
  if (!validateMetadata(ctx)) return;
  validatePolicySelection(s, report);
  validateTelemetryMetrics(s.metrics, report);
  validateTelemetryTracing(s.tracing, report);
  validateTelemetryAccessLogging(s.accessLogging, report);
};

/** validation.go: validateTelemetryProviders (reports the first empty provider only). */
function validateTelemetryProviders(providers: unknown, path: Path, report: Reporter): void {
  const list = msgList(providers);
  const i = list.findIndex((p) => str(p.name) === '');
  if (i >= 0) report.error([...path, i, 'name'], 'providers.name may not be empty', 'name an extension provider from meshConfig.extensionProviders, or remove the entry to use the default provider');
}

function validateTelemetryAccessLogging(logging: unknown, report: Reporter): void {
  msgList(logging).forEach((l, i) => {
    const path = ['spec', 'accessLogging', i];
    const filter = msg(l.filter);
    if (filter) {
      const err = celParseError(str(filter.expression));
      if (err) report.error([...path, 'filter', 'expression'], `must be a valid CEL expression, ${err}`, 'write a CEL expression over Envoy attributes, e.g. response.code >= 400');
    }
    validateTelemetryProviders(l.providers, [...path, 'providers'], report);
  });
}

/** Parses (without checking types) like cel-go's `env.Parse`; returns the error text. */
export function celParseError(expression: string): string | undefined {
  try {
    parseCel(expression);
    return undefined;
  } catch (e) {
    return `ERROR: <input>: Syntax error: ${firstLine((e as Error).message)}`;
  }
}

function firstLine(s: string): string {
  const i = s.indexOf('\n');
  return i < 0 ? s : s.slice(0, i);
}

function validateTelemetryTracing(tracing: unknown, report: Reporter): void {
  const list = msgList(tracing);
  if (list.length > 1) {
    report.warn(['spec', 'tracing'], 'multiple tracing is not currently supported', 'configure one tracing entry; only the first is used');
  }
  list.forEach((t, i) => {
    const path = ['spec', 'tracing', i];
    if (msgList(t.providers).length > 1) {
      report.warn([...path, 'providers'], 'multiple providers is not currently supported', 'list one provider; only the first is used');
    }
    validateTelemetryProviders(t.providers, [...path, 'providers'], report);
    const pct = num(t.randomSamplingPercentage);
    if (pct < 0 || pct > 100) {
      report.error([...path, 'randomSamplingPercentage'], 'randomSamplingPercentage must be in range [0.0, 100.0]', 'use a percentage from 0 to 100, e.g. 1.5');
    }
    const tags = isObject(t.customTags) ? t.customTags : {};
    for (const [name, value] of Object.entries(tags)) {
      const tagPath = [...path, 'customTags', name];
      if (name === '') report.error(tagPath, 'tag name may not be empty', 'give the tag a name');
      // A `null` map value decodes as an empty CustomTag, which has no type to check.
      const tag: Obj = isObject(value) ? value : {};
      const kind = oneofWinner(tag, CUSTOM_TAG_TYPES);
      const body: Obj = kind ? (msg(tag[kind]) ?? {}) : {};
      if (kind === 'literal' && str(body.value) === '') {
        report.error([...tagPath, 'literal', 'value'], 'literal tag value may not be empty', 'set the literal value');
      } else if (kind === 'header' && str(body.name) === '') {
        report.error([...tagPath, 'header', 'name'], 'header tag name may not be empty', 'set the request header name');
      } else if (kind === 'environment' && str(body.name) === '') {
        report.error([...tagPath, 'environment', 'name'], 'environment tag name may not be empty', 'set the environment variable name');
      }
    }
  });
}

function validateTelemetryMetrics(metrics: unknown, report: Reporter): void {
  msgList(metrics).forEach((m, i) => {
    const path = ['spec', 'metrics', i];
    validateTelemetryProviders(m.providers, [...path, 'providers'], report);
    msgList(m.overrides).forEach((o, j) => {
      const oPath = [...path, 'overrides', j];
      const overrides = isObject(o.tagOverrides) ? o.tagOverrides : {};
      for (const [tagName, value] of Object.entries(overrides)) {
        const tPath = [...oPath, 'tagOverrides', tagName];
        if (tagName === '') report.warn(tPath, 'tagOverrides.name may not be empty', 'name the metric label to change');
        const to: Obj = isObject(value) ? value : {};
        const op = enumName(to.operation, TAG_OPERATIONS);
        const v = str(to.value);
        if (op === 'UPSERT' && v === '') {
          report.error([...tPath, 'value'], 'tagOverrides.value must be set when operation is UPSERT', 'set value to a CEL expression, e.g. request.host, or use operation REMOVE');
        } else if (op === 'REMOVE' && v !== '') {
          report.error([...tPath, 'value'], 'tagOverrides.value may only be set when operation is UPSERT', 'remove value, or use operation UPSERT');
        }
      }
      const match = msg(o.match);
      if (match && oneofWinner(match, METRIC_MATCH) === 'customMetric' && str(match.customMetric) === '') {
        report.error([...oPath, 'match', 'customMetric'], 'customMetric may not be empty', 'name the custom metric, or use metric with a standard metric name');
      }
    });
  });
}
