/**
 * Semantic validators by kind. Each kind's rules live in their own file, ported from
 * istio/istio pkg/config/validation (validation.go, virtualservice.go, agent/validation.go).
 */
import type { SemanticValidator } from '../types.js';

export const SEMANTIC_VALIDATORS: ReadonlyMap<string, SemanticValidator> = new Map<string, SemanticValidator>([
]);
