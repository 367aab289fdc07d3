/** One call that does what `meshwork analyze` does: load, validate, analyze. */
import type { Diagnostic } from '../diagnostics.js';
import { loadPaths, type LoadLimits } from '../load/loader.js';
import type { Resource } from '../load/resource.js';
import { validateResources } from '../validate/index.js';
import { analyzeResources } from './index.js';
import type { MeshConfig } from '../mesh.js';

export interface AnalysisReport {
  files: string[];
  /** Documents read (all kinds). */
  documents: number;
  valid: Resource[];
  diagnostics: Diagnostic[];
  /** 2: some input is unusable or fails validation; 1: valid but analysis has warnings; 0: clean. */
  exitCode: 0 | 1 | 2;
}

export function analyzePaths(paths: readonly string[], opts: { mesh?: Partial<MeshConfig>; limits?: Partial<LoadLimits> } = {}): AnalysisReport {
  const loaded = loadPaths(paths, opts.limits);
  const v = validateResources(loaded.resources);
  const analysis = analyzeResources(v.valid, opts.mesh);
  const diagnostics = [...loaded.diagnostics, ...v.diagnostics, ...analysis];
  const errors = diagnostics.some((d) => d.severity === 'error');
  const warnings = diagnostics.some((d) => d.severity === 'warning');
  return { files: loaded.files, documents: loaded.resources.length, valid: v.valid, diagnostics, exitCode: errors ? 2 : warnings ? 1 : 0 };
}
