/**
 * Istio's ambient PeerAuthentication golden files (corpus group H) as an oracle for the merged
 * mTLS mode per port (composePeerAuthentication, mtlsModeForPort, decideInbound's connection
 * check).
 *
 * Each `peer-authn-*-in.yaml` holds PeerAuthentications for a workload labelled `app: a`
 * (ambientindex_test.go: TestRBACConvert). The file without `-in` is what Istio converts the
 * workload-level policy into for ztunnel: a DENY authorization ("deny when the peer has no
 * principal", per port), or nothing. What ztunnel enforces on a workload is that converted
 * policy, if the workload references it, plus Istio's static STRICT policy
 * (`istio_converted_static_strict`: DENY when no principal, policies.go) when the effective mode
 * is STRICT; which of the two a workload references is decided by
 * authorization.go: convertedSelectorPeerAuthentications, ported below. Evaluating them the
 * way ztunnel does (groups OR-ed, a group's rules AND-ed, a rule's matches OR-ed; ztunnel
 * src/rbac.rs: Authorization::matches; authorization.proto) says, for a plaintext connection
 * on each port, whether the port is STRICT.
 *
 * Meshwork's target is the sidecar: where ambient and sidecar semantics differ, the test
 * asserts the sidecar's (policy_applier.go: ComposePeerAuthentication) and says so below.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { compileSnapshot } from '../src/compile/snapshot.js';
import { composePeerAuthentication, mtlsModeForPort, type MtlsMode } from '../src/compile/security.js';
import { decideInbound } from '../src/decide/inbound.js';
import { loadPaths } from '../src/load/loader.js';
import type { Resource } from '../src/load/resource.js';
import { meshConfig, type WorkloadIdentity } from '../src/mesh.js';
import { CORPUS } from './support/corpus.js';

const DIR = join(CORPUS, 'pilot/pkg/serviceregistry/ambient/testdata');
const ROOT = 'istio-system'; // ambientindex_test.go: systemNS
/** Ports the inputs name, and one they do not. */
const PORTS = [8080, 9090, 7070];

/**
 * Istio's sidecar result (policy_applier.go: ComposePeerAuthentication): the workload-wide mode
 * and the portLevelMtls modes of the workload-level policy (UNSET inherits the workload mode).
 */
const SIDECAR: Record<string, { mode: MtlsMode; ports?: Record<number, MtlsMode> }> = {
  'peer-authn-disable-in.yaml': { mode: 'DISABLE' },
  'peer-authn-disable-port-mtls-strict-in.yaml': { mode: 'DISABLE', ports: { 9090: 'STRICT' } },
  'peer-authn-permissive-in.yaml': { mode: 'PERMISSIVE' },
  'peer-authn-permissive-port-mtls-strict-and-permissive-in.yaml': { mode: 'PERMISSIVE', ports: { 9090: 'STRICT', 8080: 'PERMISSIVE' } },
  'peer-authn-permissive-port-mtls-strict-in.yaml': { mode: 'PERMISSIVE', ports: { 9090: 'STRICT' } },
  'peer-authn-permissive-root-permissive-namespace-strict-workload-ports-in.yaml': { mode: 'PERMISSIVE', ports: { 9090: 'STRICT', 8080: 'STRICT' } },
  'peer-authn-permissive-root-permissive-workload-in.yaml': { mode: 'PERMISSIVE', ports: { 9090: 'PERMISSIVE' } },
  'peer-authn-permissive-root-strict-namespace-permissive-workload-in.yaml': { mode: 'STRICT', ports: { 9090: 'PERMISSIVE' } },
  'peer-authn-permissive-root-unset-namespace-mixed-workload-ports-in.yaml': { mode: 'PERMISSIVE', ports: { 9090: 'STRICT', 8080: 'PERMISSIVE' } },
  'peer-authn-strict-and-disable-port-mtls-in.yaml': { mode: 'STRICT', ports: { 9090: 'DISABLE' } },
  'peer-authn-strict-and-permissive-port-mtls-in.yaml': { mode: 'STRICT', ports: { 9090: 'PERMISSIVE' } },
  'peer-authn-strict-and-strict-port-mtls-in.yaml': { mode: 'STRICT', ports: { 8080: 'STRICT' } },
  'peer-authn-strict-in.yaml': { mode: 'STRICT' },
  'peer-authn-strict-port-mtls-strict-and-permissive-in.yaml': { mode: 'STRICT', ports: { 9090: 'STRICT', 8080: 'PERMISSIVE' } },
  'peer-authn-strict-root-permissive-namespace-strict-workload-in.yaml': { mode: 'PERMISSIVE', ports: { 9090: 'STRICT' } },
  'peer-authn-strict-root-permissive-workload-in.yaml': { mode: 'STRICT', ports: { 9090: 'PERMISSIVE' } },
  'peer-authn-strict-root-unset-workload-port-mtls-strict-and-permissive-in.yaml': { mode: 'STRICT', ports: { 9090: 'PERMISSIVE', 8080: 'STRICT' } },
  'peer-authn-strict-workload-in.yaml': { mode: 'STRICT' },
  'peer-authn-unset-port-mtls-strict-in.yaml': { mode: 'PERMISSIVE', ports: { 8080: 'STRICT' } },
};

/**
 * Where the ambient outcome is not the sidecar's. ztunnel has no DISABLE: it always accepts
 * HBONE (mTLS) and treats DISABLE like PERMISSIVE (authorization.go: convertPeerAuthentication
 * groups PERMISSIVE and DISABLE in one case and only ever emits "deny without a principal";
 * convertedSelectorPeerAuthentications likewise). A sidecar's DISABLE port serves plaintext
 * only: its filter chain has no TLS match, so an mTLS client fails (reference §4). The
 * strictness per port — the only thing the ambient output encodes — is the same in every file.
 */
const AMBIENT_DIFFERS: Record<string, string> = {
  'peer-authn-disable-in.yaml': 'DISABLE on every port: ambient accepts mTLS there, a sidecar rejects it',
  'peer-authn-disable-port-mtls-strict-in.yaml': 'DISABLE except 9090: ambient accepts mTLS on the other ports, a sidecar rejects it',
  'peer-authn-strict-and-disable-port-mtls-in.yaml': 'DISABLE on 9090: ambient accepts mTLS there, a sidecar rejects it',
};

type Mode = 'STRICT' | 'PERMISSIVE' | 'DISABLE' | 'UNSET';
const modeOf = (m: any): Mode => (['STRICT', 'PERMISSIVE', 'DISABLE'].includes(m?.mode) ? m.mode : 'UNSET');
const hasSelector = (r: Resource) => Object.keys(r.spec?.selector?.matchLabels ?? {}).length > 0;

/**
 * authorization.go: convertedSelectorPeerAuthentications — whether the workload gets the static
 * STRICT policy, and whether it references its converted workload policy.
 */
function ambientReferences(pas: readonly Resource[]): { staticStrict: boolean; workloadPolicy: boolean } {
  // The first of each level (ambientindex_test.go gives no creation times: load order).
  const mesh = pas.find((r) => !hasSelector(r) && r.metadata.namespace === ROOT);
  const ns = pas.find((r) => !hasSelector(r) && r.metadata.namespace !== ROOT);
  const wl = pas.find((r) => hasSelector(r) && r.metadata.namespace !== ROOT);
  let strict = mesh ? modeOf(mesh.spec.mtls) === 'STRICT' : false;
  if (ns && modeOf(ns.spec.mtls) !== 'UNSET') strict = modeOf(ns.spec.mtls) === 'STRICT';
  if (!wl) return { staticStrict: strict, workloadPolicy: false };
  const mode = modeOf(wl.spec.mtls);
  if (mode === 'STRICT') strict = true;
  if (mode === 'PERMISSIVE' || mode === 'DISABLE') strict = false;
  let ref = false;
  const ports = Object.values<any>(wl.spec.portLevelMtls ?? {}).map(modeOf);
  if (wl.spec.portLevelMtls) {
    if (mode === 'STRICT') {
      if (ports.some((m) => m === 'PERMISSIVE' || m === 'DISABLE')) [ref, strict] = [true, false];
    } else if (mode === 'PERMISSIVE' || mode === 'DISABLE') {
      if (ports.includes('STRICT')) ref = true;
    } else if (strict) {
      if (ports.includes('PERMISSIVE')) [ref, strict] = [true, false];
    } else {
      strict = false;
      if (ports.includes('STRICT')) ref = true;
    }
  }
  return { staticStrict: strict, workloadPolicy: ref };
}

interface Conn { port: number; principal: string }

/** ztunnel's match of one DENY authorization (only the fields the PeerAuthentication conversion emits). */
function ztunnelMatches(auth: any, conn: Conn): boolean {
  const presence = (p: string) => p !== '';
  const match = (m: any): boolean => {
    for (const k of Object.keys(m)) if (!['destinationPorts', 'notDestinationPorts', 'notPrincipals'].includes(k)) throw new Error(`unsupported ztunnel match field ${k}`);
    if (m.destinationPorts && !m.destinationPorts.includes(conn.port)) return false;
    if (m.notDestinationPorts && m.notDestinationPorts.includes(conn.port)) return false;
    if (m.notPrincipals) {
      for (const sm of m.notPrincipals) if (!('presence' in sm)) throw new Error('unsupported string match');
      if (presence(conn.principal)) return false;
    }
    return true;
  };
  expect(auth.action).toBe('DENY');
  return (auth.groups ?? []).some((g: any) => (g.rules ?? []).every((r: any) => (r.matches ?? []).some(match)));
}

const STATIC_STRICT = { action: 'DENY', groups: [{ rules: [{ matches: [{ notPrincipals: [{ presence: {} }] }] }] }] };

const inputs = existsSync(DIR) ? readdirSync(DIR).filter((f) => /^peer-authn-.*-in\.yaml$/.test(f)).sort() : [];

describe.skipIf(!existsSync(DIR))('Istio ambient PeerAuthentication golden files (group H): merged mode per port', () => {
  it('covers every input, with a sidecar expectation for each', () => {
    expect(inputs).toEqual(Object.keys(SIDECAR).sort());
    console.log(`peer-authn golden: ${inputs.length} cases x ${PORTS.length} ports; ambient differs from sidecar in ${Object.keys(AMBIENT_DIFFERS).length}: ${Object.keys(AMBIENT_DIFFERS).join(', ')}`);
  });

  for (const file of inputs) {
    it(file, () => {
      const loaded = loadPaths([join(DIR, file)]);
      expect(loaded.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      const pas = loaded.resources.filter((r) => r.kind === 'PeerAuthentication');
      // The workload lives in the namespace of the non-root policies (`default` for the
      // single-document files, whose policy has no namespace).
      const namespace = pas.find((r) => r.metadata.namespace !== ROOT)?.metadata.namespace ?? 'default';
      const workload: WorkloadIdentity = { namespace, labels: { app: 'a' }, serviceAccount: 'a' };

      // The ambient oracle: the converted policy (the golden output) and the static STRICT policy.
      const outText = readFileSync(join(DIR, file.replace('-in.yaml', '.yaml')), 'utf8');
      const converted = outText.trim() ? parse(outText) : null;
      const refs = ambientReferences(pas);
      // Istio converts a policy exactly when the workload needs to reference it.
      expect(refs.workloadPolicy, 'converted policy referenced iff Istio emitted one').toBe(converted !== null);
      const enforced = [...(refs.staticStrict ? [STATIC_STRICT] : []), ...(converted && refs.workloadPolicy ? [converted] : [])];
      const ambientStrict = (port: number) => enforced.some((a) => ztunnelMatches(a, { port, principal: '' }));
      for (const port of PORTS) {
        expect(enforced.some((a) => ztunnelMatches(a, { port, principal: 'spiffe://cluster.local/ns/x/sa/y' })), 'ztunnel never denies a peer with an identity here').toBe(false);
      }

      const pa = composePeerAuthentication(loaded.resources, workload, meshConfig());
      const snap = compileSnapshot(loaded.resources, workload);
      const want = SIDECAR[file]!;
      const got: Record<number, MtlsMode> = {};
      for (const port of PORTS) got[port] = mtlsModeForPort(pa, port);
      const expected: Record<number, MtlsMode> = {};
      for (const port of PORTS) expected[port] = want.ports?.[port] ?? want.mode;
      // Sidecar semantics, exactly.
      expect({ mode: pa.mode, ports: Object.fromEntries(pa.ports) }).toEqual({ mode: want.mode, ports: Object.fromEntries(Object.entries(want.ports ?? {}).map(([k, v]) => [k, v])) });
      expect(got).toEqual(expected);
      // The ambient golden: STRICT exactly where ztunnel denies plaintext.
      for (const port of PORTS) {
        expect(got[port] === 'STRICT', `port ${port}: STRICT iff the ambient policies deny plaintext`).toBe(ambientStrict(port));
      }
      // And what a connection meets in decideInbound.
      for (const port of PORTS) {
        const plain = decideInbound(snap, { port, method: 'GET', target: '/', headers: {} });
        const mtls = decideInbound(snap, { port, principal: 'cluster.local/ns/x/sa/y', method: 'GET', target: '/', headers: {} });
        expect(plain.connection, `plaintext on ${port}`).toBe(ambientStrict(port) ? 'rejected' : 'accepted');
        // mTLS: ztunnel accepts it everywhere; a sidecar's DISABLE port does not.
        expect(mtls.connection, `mTLS on ${port}`).toBe(got[port] === 'DISABLE' ? 'rejected' : 'accepted');
        if (got[port] === 'DISABLE') expect(AMBIENT_DIFFERS[file], `${file} must be listed as differing from ambient`).toBeDefined();
      }
    });
  }
});
