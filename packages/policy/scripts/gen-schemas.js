// Build step: reads Istio's CRD bundle (the OpenAPI schemas and CEL rules Istio's API server
// validates with) and writes the parts the validator needs to src/generated/crds.json.
// The schemas are read from the Istio source, never hand-copied: point MESHWORK_ISTIO_CRDS
// at another crd-all.gen.yaml to validate against a different Istio release.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';

const here = dirname(fileURLToPath(import.meta.url));
const source =
  process.env.MESHWORK_ISTIO_CRDS ??
  resolve(here, '../../../../shared/conformance/istio/manifests/charts/base/files/crd-all.gen.yaml');
const out = resolve(here, '../src/generated/crds.json');

// Descriptions make up most of the file and no check reads them.
function strip(node) {
  if (Array.isArray(node)) return node.map(strip);
  if (node && typeof node === 'object') {
    const copy = {};
    for (const [k, v] of Object.entries(node)) {
      if (k === 'description') continue;
      copy[k] = strip(v);
    }
    return copy;
  }
  return node;
}

const text = readFileSync(source, 'utf8');
const kinds = [];
for (const doc of parseAllDocuments(text)) {
  const crd = doc.toJS();
  if (!crd || crd.kind !== 'CustomResourceDefinition') continue;
  const versions = {};
  for (const v of crd.spec.versions) {
    versions[v.name] = {
      served: v.served !== false,
      storage: v.storage === true,
      deprecated: v.deprecated === true,
      schema: strip(v.schema?.openAPIV3Schema ?? {}),
    };
  }
  kinds.push({ group: crd.spec.group, kind: crd.spec.names.kind, plural: crd.spec.names.plural, versions });
}
if (kinds.length === 0) throw new Error(`gen-schemas: no CustomResourceDefinition found in ${source}`);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, JSON.stringify({ source: 'crd-all.gen.yaml', kinds }) + '\n');
console.log(`gen-schemas: ${kinds.length} CRDs -> src/generated/crds.json`);
