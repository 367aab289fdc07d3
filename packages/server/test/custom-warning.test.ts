/** CUSTOM authorization is refused clearly when the config loads, not silently at the first request. */
import { describe, expect, it } from 'vitest';
import { createInbound } from '../src/index.js';

describe('CUSTOM authorization', () => {
  it('is named in one process warning when the pipeline starts, once per policy', async () => {
    const seen: Error[] = [];
    const onWarning = (w: Error) => seen.push(w);
    process.on('warning', onWarning);
    try {
      const inbound = createInbound({
        workload: { namespace: 'foo', labels: { app: 'httpbin' } },
        configYaml: `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext-authz, namespace: foo}
spec:
  action: CUSTOM
  provider: {name: opa}
  rules: [{to: [{operation: {paths: [/admin/*]}}]}]
`,
      });
      await new Promise((r) => setImmediate(r));
      inbound.close();
      const ours = seen.filter((w) => (w as Error & { code?: string }).code === 'MESHWORK_CUSTOM_AUTHZ');
      expect(ours).toHaveLength(1);
      expect(ours[0]!.message).toMatch(/foo\/ext-authz.*CUSTOM.*opa.*denied/);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
