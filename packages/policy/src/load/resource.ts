/** A loaded configuration document: plain data plus the way back to its source text. */
export type PathSegment = string | number;

export interface SourceLocation {
  file: string;
  line: number;
  column: number;
}

export interface ResourceMetadata {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  /** RFC 3339 creation time when the document carries one (Istio orders conflicts by it). */
  creationTimestamp?: string | undefined;
  generation?: number | undefined;
  resourceVersion?: string | undefined;
}

export interface Resource {
  apiVersion: string;
  /** API group, `''` for core Kubernetes kinds. */
  group: string;
  version: string;
  kind: string;
  metadata: ResourceMetadata;
  /** `spec` as plain data (`{}` when absent). */
  spec: any;
  /** The whole document as plain data. */
  raw: Record<string, unknown>;
  /** `Kind/namespace/name`. */
  key: string;
  /** Where the document starts. */
  source: SourceLocation;
  /** 0-based order of loading; ties in creation time fall back to it. */
  order: number;
  /**
   * Content digest of the document (sha1 of its source text, or of its JSON when built in
   * code), computed once at load so snapshot versions never re-serialise specs.
   */
  digest: string;
  /** Finds the line and column of a field path such as `['spec','http',0,'route']`. */
  locate(path: readonly PathSegment[]): SourceLocation;
}

/** Renders a path the way Kubernetes reports fields: `spec.http[0].route[1].weight`. */
export function formatPath(path: readonly PathSegment[]): string {
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(seg)) out += out ? `.${seg}` : seg;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

export function resourceKey(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}
