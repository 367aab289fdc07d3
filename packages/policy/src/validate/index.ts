/**
 * Validation as Istio's API server and webhook do it: the CRD's structural schema and CEL
 * rules (schema.ts), then Istio's semantic rules per kind (semantic/). A document with any
 * error is rejected whole; the rest of a batch is reported but the caller decides whether
 * to apply nothing (the control service) or keep the valid ones (explain).
 */
import type { Diagnostic } from '../diagnostics.js';
import { formatPath, type PathSegment, type Resource } from '../load/resource.js';
import { APPLIED_KINDS, findCrd, isIstioGroup } from '../kinds.js';
import { labelErrors, validateObjectMetadata, validateSchema } from './schema.js';
import { quoteValue, showValue } from './go-compat.js';
import { SEMANTIC_VALIDATORS } from './semantic/index.js';
import type { Reporter } from './types.js';
import { unappliedFields } from './unapplied.js';

export interface ValidationResult {
  /** Documents without errors (Istio kinds and Kubernetes Services), in input order. */
  valid: Resource[];
  /** Documents with at least one error. */
  rejected: Resource[];
  diagnostics: Diagnostic[];
}

function reporterFor(r: Resource, out: Diagnostic[], code: string): Reporter & { errors: number } {
  const push = (severity: 'error' | 'warning' | 'info', path: readonly PathSegment[], message: string, fix?: string) => {
    const loc = r.locate(path);
    out.push({ severity, code, message, fix, file: loc.file, line: loc.line, column: loc.column, resource: r.key, path: formatPath(path) || undefined });
  };
  const rep = {
    errors: 0,
    error(path: readonly PathSegment[], message: string, fix?: string) {
      rep.errors++;
      push('error', path, message, fix);
    },
    warn(path: readonly PathSegment[], message: string, fix?: string) {
      push('warning', path, message, fix);
    },
  };
  return rep;
}

/**
 * A fix for each form of Kubernetes schema message (the messages themselves stay exactly as
 * kubectl prints them, since users search for those words).
 */
export function schemaFix(message: string, r: Pick<Resource, 'apiVersion' | 'kind'>): string {
  const crd = `the ${r.kind} schema of ${r.apiVersion}`;
  if (message.includes('unknown field')) return `remove the field or correct its spelling (see ${crd})`;
  if (message.includes('Required value')) return 'add the field';
  if (message.includes('Unsupported value')) return 'use one of the supported values listed';
  if (message.includes('Duplicate value')) return 'remove the duplicate entry';
  let m = /should be at least (\d+) chars long/.exec(message);
  if (m) return `use a value of at least ${m[1]} character(s)`;
  m = /should be at most (\d+) chars long/.exec(message);
  if (m) return `shorten the value to at most ${m[1]} characters`;
  if (message.includes('should match')) return 'use a value that matches the pattern shown';
  m = /must be of type (\w+)/.exec(message);
  if (m) return `write the value as ${/^[aeiou]/.test(m[1]!) ? 'an' : 'a'} ${m[1]}`;
  if (/greater than|less than/.test(message)) return 'use a value within the bound shown';
  if (/at least \d+ (items|properties)/.test(message)) return 'add entries, or remove the empty field';
  if (/at most \d+ (items|properties)|Too many/.test(message)) return 'remove entries to stay within the limit';
  if (message.includes('oneOf') || message.includes('one and only one')) return 'set exactly one of the mutually exclusive fields';
  if (message.includes('Invalid value')) return 'change the value so that it satisfies the rule quoted in the message';
  return `check the field against ${crd}`;
}

/** Validates one document; returns its diagnostics and whether it is accepted. */
export function validateResource(r: Resource): { accepted: boolean; istio: boolean; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const at = { file: r.source.file, line: r.source.line, column: r.source.column, resource: r.key };
  if (r.group === '' && r.version === 'v1' && r.kind === 'Service') {
    const rep = reporterFor(r, diagnostics, 'service');
    // ObjectMeta as the API server checks it (a Service's name is a DNS-1035 label), as every Istio kind's is by its schema.
    validateObjectMetadata(r.raw, (path, message) => rep.error(path, message, schemaFix(message, r)), { name: 'dns1035-label' });
    const selector = r.spec?.selector;
    if (selector !== undefined && selector !== null) {
      if (typeof selector !== 'object' || Array.isArray(selector)) rep.error(['spec', 'selector'], 'spec.selector must be a map of label name → value', 'write the selector as {app: reviews}');
      else for (const e of labelErrors(selector)) rep.error(['spec', 'selector', e.key], `spec.selector: ${e.message}`, 'selector keys are label names (`[dns-prefix/]name`) and values label values, as in metadata.labels');
    }
    const ports = r.spec?.ports;
    if (ports !== undefined && !Array.isArray(ports)) rep.error(['spec', 'ports'], 'spec.ports must be a list', 'list the ports as [{name, port}]');
    for (const [i, p] of (Array.isArray(ports) ? ports : []).entries()) {
      if (!Number.isInteger(Number(p?.port)) || Number(p.port) < 1 || Number(p.port) > 65535) rep.error(['spec', 'ports', i, 'port'], 'port must be between 1-65535', 'set a valid port number');
    }
    return { accepted: rep.errors === 0, istio: false, diagnostics };
  }
  if (!isIstioGroup(r.group)) {
    diagnostics.push({ severity: 'info', code: 'skipped', ...at, message: `${showValue(r.apiVersion)} ${showValue(r.kind)} is not an Istio kind: skipped` });
    return { accepted: false, istio: false, diagnostics };
  }
  const crd = findCrd(r.group, r.kind);
  if (!crd) {
    diagnostics.push({ severity: 'error', code: 'schema', ...at, message: `no kind ${quoteValue(r.kind)} is registered for version ${quoteValue(r.apiVersion)}`, fix: 'check the kind and apiVersion against Istio\'s CRDs' });
    return { accepted: false, istio: true, diagnostics };
  }
  const version = crd.versions[r.version];
  if (!version || !version.served) {
    const served = Object.entries(crd.versions).filter(([, v]) => v.served).map(([k]) => `${crd.group}/${k}`);
    diagnostics.push({ severity: 'error', code: 'schema', ...at, message: `no kind ${quoteValue(r.kind)} is registered for version ${quoteValue(r.apiVersion)}`, fix: `use one of: ${served.join(', ')}` });
    return { accepted: false, istio: true, diagnostics };
  }
  const schemaRep = reporterFor(r, diagnostics, 'schema');
  validateSchema(r.raw, version.schema, (path, message) => {
    // Kubernetes adds this line after blocking errors; it is a note about the errors above,
    // not an error of its own (the document is already rejected).
    if (message.includes('some validation rules were not checked')) {
      diagnostics.push({ severity: 'info', code: 'schema', ...at, message, fix: 'correct the errors above; the remaining CEL rules run then' });
      return;
    }
    schemaRep.error(path, message, schemaFix(message, r));
  });
  let errors = schemaRep.errors;
  if (errors === 0) {
    const semantic = SEMANTIC_VALIDATORS.get(r.kind);
    if (semantic) {
      const rep = reporterFor(r, diagnostics, 'semantic');
      try {
        semantic(r.spec ?? {}, { resource: r, report: rep });
      } catch (e) {
        // A validator bug must not take the process down or let the document through.
        rep.error(['spec'], `internal validation error: ${(e as Error).message}`, 'report this as a Meshwork bug');
      }
      errors += rep.errors;
    }
  }
  if (errors === 0) {
    if (!APPLIED_KINDS.has(r.kind)) {
      diagnostics.push({ severity: 'warning', code: 'no-effect', ...at, message: `${r.kind} is valid but has no effect in-process (it configures Envoy or the Istio agent)` });
    } else {
      for (const u of unappliedFields(r)) {
        const loc = r.locate(u.path);
        diagnostics.push({ severity: 'info', code: 'ignored', message: u.message, file: loc.file, line: loc.line, column: loc.column, resource: r.key, path: formatPath(u.path) });
      }
    }
  }
  return { accepted: errors === 0, istio: true, diagnostics };
}

/** Validates every document; later documents with the same Kind/namespace/name replace earlier ones. */
export function validateResources(resources: readonly Resource[]): ValidationResult {
  const diagnostics: Diagnostic[] = [];
  const valid: Resource[] = [];
  const rejected: Resource[] = [];
  const seen = new Map<string, Resource>();
  for (const r of resources) {
    const prev = seen.get(r.key);
    if (prev) {
      diagnostics.push({ severity: 'warning', code: 'duplicate', file: r.source.file, line: r.source.line, column: r.source.column, resource: r.key, message: `${r.key} is defined again (first at ${prev.source.file}:${prev.source.line}); the later definition replaces the earlier`, fix: 'keep one definition per Kind/namespace/name' });
    }
    seen.set(r.key, r);
    const v = validateResource(r);
    diagnostics.push(...v.diagnostics);
    if (v.accepted) valid.push(r);
    else if (v.istio || r.kind === 'Service') rejected.push(r);
  }
  const latest = new Set(seen.values());
  return { valid: valid.filter((r) => latest.has(r)), rejected, diagnostics };
}
