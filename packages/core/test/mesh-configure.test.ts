/** Mesh.configure: configuration given in code changes atomically; a bad change leaves the last good one. */
import { describe, expect, it } from 'vitest';
import { Mesh } from '../src/index.js';

const pa = (mode: string) => `apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec: {mtls: {mode: ${mode}}}
`;

describe('Mesh.configure', () => {
  it('applies new YAML as a whole and keeps the last good snapshot when the change is invalid', () => {
    const mesh = new Mesh({ workload: { namespace: 'shop', labels: { app: 'web' } }, configYaml: pa('STRICT') });
    try {
      expect(mesh.snapshot.inbound.peerAuthentication.mode).toBe('STRICT');
      const v1 = mesh.snapshot.version;
      expect(mesh.configure({ configYaml: pa('DISABLE') }).applied).toBe(true);
      expect(mesh.snapshot.inbound.peerAuthentication.mode).toBe('DISABLE');
      const bad = mesh.configure({ configYaml: pa('SOMETIMES') });
      expect(bad.applied).toBe(false);
      expect(bad.diagnostics.map((d) => d.message).join('\n')).toMatch(/SOMETIMES|mode/);
      expect(mesh.snapshot.inbound.peerAuthentication.mode).toBe('DISABLE');
      expect(mesh.snapshot.version).not.toBe(v1);
      // The rejected text is not kept: the next reload still builds from the last good input.
      expect(mesh.reload().applied).toBe(true);
      expect(mesh.snapshot.inbound.peerAuthentication.mode).toBe('DISABLE');
    } finally {
      mesh.close();
    }
  });
});
