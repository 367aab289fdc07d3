import type { PathSegment, Resource } from '../load/resource.js';

/**
 * Collects findings for one resource. Paths are field paths from the document root
 * (`['spec','http',0,'timeout']`); the caller turns them into file:line:col.
 */
export interface Reporter {
  /** What Istio's webhook (or the CRD schema / CEL) rejects. */
  error(path: readonly PathSegment[], message: string, fix?: string): void;
  /** Accepted but suspicious, as Istio's validation warnings and `istioctl analyze`. */
  warn(path: readonly PathSegment[], message: string, fix?: string): void;
}

export interface SemanticContext {
  resource: Resource;
  report: Reporter;
}

/**
 * Istio's semantic validation for one kind (pkg/config/validation in istio/istio).
 * Runs only on documents that passed the structural schema, so field types can be trusted.
 */
export type SemanticValidator = (spec: any, ctx: SemanticContext) => void;
