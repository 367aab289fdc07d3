/**
 * viewForNamespace: for every workload of a namespace, the snapshot compiled from the
 * namespace's view decides exactly as the one compiled from the whole configuration — over
 * Istio's own YAML corpus (read in place), over random configurations built to stress
 * exportTo and the DestinationRule lookup, and in targeted cases. Also loadObjects, and the
 * README's "view of one namespace" example.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  clusterPolicy, compileSnapshot, decideInbound, decideOutbound, destinationPolicy, explainInboundJson, inferServerMtlsMode,
  loadObjects, loadPaths, loadText, meshConfig, upstreamTls, validateResources, viewForNamespace,
  type InboundRequest, type MeshConfig, type Resource, type Snapshot, type WorkloadIdentity,
} from '../src/index.js';
import { CORPUS } from './support/corpus.js';

// ---------------------------------------------------------------------------------------
// The projection of a snapshot that decisions depend on (everything but `version`, and the
// registry's list of all WorkloadEntries, which no decision reads).

function projectSnapshot(snap: Snapshot): unknown {
  const svc = (s: Snapshot['services'][number]) => ({
    hostname: s.hostname, namespace: s.namespace, origin: s.origin, location: s.location, resolution: s.resolution,
    ports: s.ports, addresses: s.addresses, exportTo: s.exportTo, resource: s.resource,
    serviceAccounts: [...s.serviceAccounts].sort(),
    endpoints: s.endpoints.map((e) => ({ address: e.address, ports: e.ports, labels: e.labels, serviceAccount: e.serviceAccount ?? null, tlsMode: e.tlsMode, weight: e.weight, source: e.source })),
  });
  const internalNs = new Set(snap.services.filter((s) => s.location === 'MESH_INTERNAL').map((s) => s.namespace));
  return {
    services: snap.services.map(svc),
    hostIndex: [...snap.hostIndex].map(([h, s]) => [h, s.hostname]).sort(),
    wildcardServices: snap.wildcardServices.map((s) => s.hostname),
    virtualServices: snap.virtualServices.map((vs) => ({
      id: vs.id, hosts: vs.hosts, matchPorts: [...vs.matchPorts], portless: vs.hasPortlessRule,
      rules: vs.rules.map((r) => ({ index: r.index, delegate: r.delegate ?? null, action: r.action, matches: r.matches?.length ?? null, destinations: r.destinations.map((d) => `${d.host}|${d.subset}|${d.port}|${d.weight}`) })),
    })),
    vsByService: [...snap.vsByService].map(([h, vs]) => [h, vs?.id ?? null]),
    vsOnlyHosts: [...snap.vsOnlyHosts].map(([h, vs]) => [h, vs.id]),
    destinationRules: snap.services.map((s) => {
      const dr = snap.destinationRules.lookup(s.hostname, s.namespace);
      return [s.hostname, s.namespace, dr ? { ids: dr.ids, ns: dr.namespace, host: dr.host, subsets: dr.subsets, trafficPolicy: dr.trafficPolicy ?? null } : null];
    }),
    outboundTrafficPolicy: snap.outboundTrafficPolicy,
    sidecar: snap.sidecar,
    inbound: {
      peerAuthentication: { mode: snap.inbound.peerAuthentication.mode, ports: [...snap.inbound.peerAuthentication.ports], sources: snap.inbound.peerAuthentication.sources },
      jwtRules: snap.inbound.jwtRules.map((j) => `${j.policy}#${j.index}`),
      spaceDelimitedClaims: [...snap.inbound.spaceDelimitedClaims],
      authorization: snap.inbound.authorization.map((p) => `${p.id}|${p.action}|${p.dryRun}|${p.rules.length}`),
    },
    // Auto-mTLS asks serverMtls about visible services only (inferServerMtlsMode): the mesh
    // level and the namespaces of visible in-mesh services are what can matter.
    serverMtls: {
      mesh: snap.serverMtls.mesh ?? null,
      namespaces: [...snap.serverMtls.namespaces].filter(([ns]) => internalNs.has(ns)).sort(),
      inferred: snap.services.map((s) => [s.hostname, inferServerMtlsMode(snap, s)]),
    },
  };
}

/** A sample of outbound requests: each visible host on each of its ports, VS-only hosts on 80, an unknown host. */
function outboundRequests(snap: Snapshot): { authority: string; port: number }[] {
  const out: { authority: string; port: number }[] = [];
  for (const s of snap.services) {
    const host = s.hostname.startsWith('*') ? `x${s.hostname.slice(1)}` : s.hostname;
    const ports = s.ports.length > 0 ? s.ports.map((p) => p.number) : [80];
    for (const port of ports) out.push({ authority: `${host}:${port}`, port });
  }
  for (const h of snap.vsOnlyHosts.keys()) out.push({ authority: h.startsWith('*') ? `x${h.slice(1)}` : h, port: 80 });
  for (const h of snap.hostIndex.keys()) if (!h.includes('.')) out.push({ authority: h, port: 80 }); // short names
  out.push({ authority: 'not-in-the-mesh.example.org', port: 80 });
  return out;
}

function projectOutbound(snap: Snapshot, req: { authority: string; port: number }): unknown {
  let d: ReturnType<typeof decideOutbound>;
  try {
    d = decideOutbound(snap, { method: 'GET', scheme: 'http', authority: req.authority, port: req.port, target: '/', headers: {} });
  } catch (e) {
    // decideOutbound throws for a VirtualService-only host whose VS has no rule for the port
    // (outbound.ts: the default route of an undefined service); both sides must throw alike.
    return { threw: String(e) };
  }
  const dest = (x: (typeof d.destinations)[number]) => {
    const { destinationRule, trafficPolicy } = destinationPolicy(snap, x);
    const cp = clusterPolicy(trafficPolicy, x.service, snap.mesh, inferServerMtlsMode(snap, x.service));
    return {
      host: x.host, subset: x.subset, port: x.port, weight: x.weight, service: x.service?.hostname ?? null, missing: x.missing ?? null,
      destinationRule: destinationRule?.ids ?? null, trafficPolicy,
      tls: (x.service?.endpoints ?? [{ tlsMode: 'istio' }]).map((e) => upstreamTls(cp.tls, x.service, e, { host: x.host, subset: x.subset ?? undefined, port: x.port }, snap.mesh)),
    };
  };
  return {
    action: d.action, host: d.host, service: d.service?.hostname ?? null, virtualService: d.virtualService?.id ?? null,
    rule: d.rule ? `${d.rule.index}|${d.rule.delegate ?? ''}` : null, match: d.matchIndex,
    destinations: d.destinations.map(dest), mirrors: d.mirrors.map((m) => ({ ...m, destination: dest(m.destination) })),
    timeoutMs: d.timeoutMs, retries: d.retries, fault: d.fault, redirect: d.redirect, directResponse: d.directResponse, rewrite: d.rewrite, notes: d.notes,
  };
}

function projectInbound(snap: Snapshot): unknown {
  const reqs: InboundRequest[] = [
    { port: 8080, method: 'GET', target: '/', headers: {} },
    { port: 9080, principal: 'cluster.local/ns/default/sa/sleep', method: 'POST', target: '/admin', headers: { 'x-token': 'admin' } },
  ];
  return reqs.map((r) => explainInboundJson(decideInbound(snap, r)));
}

interface Comparison {
  pairs: number;
  requests: number;
  /** Pairs where the view left something out (the view is not the whole configuration). */
  smaller: number;
}

/** Compiles each workload from all resources and from its namespace's view, and compares. */
function compareViews(resources: readonly Resource[], workloads: readonly WorkloadIdentity[], mesh: Partial<MeshConfig> | undefined, label: string, acc: Comparison): void {
  const views = new Map<string, Resource[]>();
  for (const w of workloads) {
    let view = views.get(w.namespace);
    if (!view) views.set(w.namespace, (view = viewForNamespace(resources, w.namespace, mesh)));
    // The same objects, in the same relative order.
    let i = 0;
    for (const r of view) {
      while (i < resources.length && resources[i] !== r) i++;
      expect(i, `${label}: view of ${w.namespace} holds an object not in the input, or out of order`).toBeLessThan(resources.length);
    }
    const full = compileSnapshot(resources, w, { mesh });
    const part = compileSnapshot(view, w, { mesh });
    const what = `${label}: ${w.namespace} ${JSON.stringify(w.labels)}`;
    expect(projectSnapshot(part), what).toEqual(projectSnapshot(full));
    for (const req of outboundRequests(full)) {
      expect(projectOutbound(part, req), `${what} -> ${req.authority}`).toEqual(projectOutbound(full, req));
      acc.requests++;
    }
    expect(projectInbound(part), what).toEqual(projectInbound(full));
    acc.pairs++;
    if (view.length < resources.length) acc.smaller++;
  }
}

/** Label sets worth compiling for: every selector, workload label set and source label in the set, and none. */
function labelSets(resources: readonly Resource[]): Record<string, string>[] {
  const out = new Map<string, Record<string, string>>([['{}', {}]]);
  const add = (v: unknown) => {
    if (!v || typeof v !== 'object' || Array.isArray(v)) return;
    const labels = Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)]));
    out.set(JSON.stringify(labels), labels);
  };
  for (const r of resources) {
    const s = r.spec ?? {};
    add(s.selector?.matchLabels);
    add(s.workloadSelector?.labels);
    add(s.workloadSelector?.matchLabels);
    if (r.kind === 'WorkloadEntry') add(s.labels);
    if (r.kind === 'Service') add(s.selector);
    for (const e of Array.isArray(s.endpoints) ? s.endpoints : []) add(e?.labels);
    for (const h of Array.isArray(s.http) ? s.http : []) for (const m of Array.isArray(h?.match) ? h.match : []) add(m?.sourceLabels);
  }
  return [...out.values()];
}

function workloadsOf(resources: readonly Resource[], mesh: MeshConfig, maxLabelSets = 8): WorkloadIdentity[] {
  const namespaces = [...new Set([...resources.map((r) => r.metadata.namespace), mesh.rootNamespace, 'view-test-absent'])].sort();
  const out: WorkloadIdentity[] = [];
  for (const namespace of namespaces) {
    // Labels of selectors in this namespace and the root one first: they are the ones that select.
    const local = labelSets(resources.filter((r) => r.metadata.namespace === namespace || r.metadata.namespace === mesh.rootNamespace));
    const sets = local.length > 1 ? local : labelSets(resources);
    for (const labels of sets.slice(0, maxLabelSets)) out.push({ namespace, labels, serviceAccount: 'view-test' });
  }
  return out;
}

// ---------------------------------------------------------------------------------------

describe('viewForNamespace over the Istio corpus', () => {
  // Each group of SOURCE.md as one configuration, every file with several namespaces on its
  // own, and the whole corpus at once (root namespace istio-system, then `default`, where
  // Bookinfo lives, so the root-namespace rules meet real DestinationRules).
  const groups = [
    'samples/bookinfo',
    'samples',
    'tests/testdata/config',
    'pkg/config/analysis/analyzers/testdata',
    'pkg/test/datasets/validation/dataset',
    'pkg/config/validation/testdata/crds',
    'pilot/pkg/serviceregistry/ambient/testdata',
    'pilot/pkg/security/authz/builder/testdata',
  ];

  function load(paths: string[]): Resource[] {
    const { resources } = loadPaths(paths.map((p) => join(CORPUS, p)));
    // Stripped of test-harness keys (`_err`) by validation: the valid documents are what a
    // control service would hold.
    return validateResources(resources).valid;
  }

  const acc: Comparison = { pairs: 0, requests: 0, smaller: 0 };

  for (const g of groups) {
    it(`group ${g}`, () => {
      const resources = load([g]);
      expect(resources.length).toBeGreaterThan(0);
      compareViews(resources, workloadsOf(resources, meshConfig()), undefined, g, acc);
    });
  }

  it('every file with resources in several namespaces', () => {
    const { resources: all } = loadPaths([CORPUS]);
    const files = [...new Set(all.map((r) => r.source.file))];
    let sets = 0;
    for (const f of files) {
      const resources = validateResources(all.filter((r) => r.source.file === f)).valid;
      if (new Set(resources.map((r) => r.metadata.namespace)).size < 2) continue;
      sets++;
      compareViews(resources, workloadsOf(resources, meshConfig()), undefined, f.slice(CORPUS.length + 1), acc);
    }
    expect(sets).toBeGreaterThanOrEqual(10);
  });

  for (const rootNamespace of ['istio-system', 'default']) {
    it(`the whole corpus at once, root namespace ${rootNamespace}`, () => {
      const resources = load(['.']);
      const mesh = { rootNamespace };
      compareViews(resources, workloadsOf(resources, meshConfig(mesh), 4), mesh, `corpus/${rootNamespace}`, acc);
    });
  }

  it('compared a substantial number of (namespace, workload) pairs', () => {
    console.log(`viewForNamespace over the corpus: ${acc.pairs} (namespace, workload) pairs, ${acc.requests} outbound requests, ${acc.smaller} pairs with a smaller view`);
    expect(acc.pairs).toBeGreaterThan(300);
    expect(acc.requests).toBeGreaterThan(5_000);
    expect(acc.smaller).toBeGreaterThan(acc.pairs / 2);
  });
});

// ---------------------------------------------------------------------------------------
// Random configurations: a few namespaces, every exportTo form, wildcard and exact hosts,
// DestinationRules that hide one another, delegates, selectors. Seeded, so a failure repeats.

function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function randomConfig(seed: number): unknown[] {
  const rnd = mulberry32(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const chance = (p: number) => rnd() < p;
  const NS = ['a', 'b', 'c', 'istio-system'];
  const APPS = ['x', 'y', 'z'];
  const EXPORT = [undefined, ['.'], ['*'], ['a'], ['b', 'c'], ['~'], ['istio-system'], ['.', 'b']];
  const docs: unknown[] = [];
  const meta = (kind: string, i: number, ns: string, extra: Record<string, unknown> = {}) => ({
    name: `${kind.toLowerCase()}-${i}`, namespace: ns, ...(chance(0.3) ? { creationTimestamp: `2026-01-0${1 + Math.floor(rnd() * 9)}T00:00:00Z` } : {}), ...extra,
  });
  const hostChoices = [
    ...APPS.flatMap((app) => NS.map((ns) => `${app}.${ns}.svc.cluster.local`)), ...APPS, '*.a.svc.cluster.local', '*.b.svc.cluster.local', '*.svc.cluster.local',
    '*.cluster.local', 'ext.example.com', '*.example.com', 'api.ext.example.com', '*',
  ];
  for (let i = 0; i < 6; i++) {
    const ns = pick(NS);
    const app = pick(APPS);
    const exp = pick(EXPORT);
    docs.push({
      apiVersion: 'v1', kind: 'Service',
      metadata: meta('Service', i, ns, exp ? { name: app, annotations: { 'networking.istio.io/exportTo': exp.join(',') } } : { name: app }),
      spec: { selector: { app }, ports: [{ name: 'http', port: 80 }, ...(chance(0.3) ? [{ name: 'grpc', port: 9090 }] : [])] },
    });
  }
  for (let i = 0; i < 3; i++) {
    const ns = pick(NS);
    docs.push({
      apiVersion: 'networking.istio.io/v1', kind: 'ServiceEntry', metadata: meta('ServiceEntry', i, ns),
      spec: {
        hosts: [pick(['ext.example.com', '*.example.com', 'api.ext.example.com', `${pick(APPS)}.${pick(NS)}.svc.cluster.local`])],
        ports: [{ number: 80, name: 'http', protocol: 'HTTP' }], location: pick(['MESH_EXTERNAL', 'MESH_INTERNAL']), resolution: 'STATIC',
        ...(chance(0.5) ? { workloadSelector: { labels: { app: pick(APPS) } } } : { endpoints: [{ address: `10.9.0.${i}`, serviceAccount: `se-${i}` }] }),
        ...(pick(EXPORT) ? { exportTo: pick(EXPORT.filter(Boolean)) } : {}),
      },
    });
  }
  for (let i = 0; i < 8; i++) {
    docs.push({
      apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', metadata: meta('WorkloadEntry', i, pick(NS)),
      spec: { address: `10.0.0.${i}`, labels: { app: pick(APPS), version: pick(['v1', 'v2']) }, ...(chance(0.7) ? { serviceAccount: `sa-${i}` } : {}) },
    });
  }
  for (let i = 0; i < 7; i++) {
    const exp = pick(EXPORT);
    docs.push({
      apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: meta('DestinationRule', i, pick(NS)),
      spec: {
        host: pick(hostChoices),
        ...(exp ? { exportTo: exp } : {}),
        ...(chance(0.2) ? { workloadSelector: { matchLabels: { app: pick(APPS) } } } : {}),
        ...(chance(0.6) ? { trafficPolicy: { tls: { mode: pick(['DISABLE', 'ISTIO_MUTUAL', 'SIMPLE']) } } } : {}),
        subsets: [{ name: pick(['v1', 'v2']), labels: { version: pick(['v1', 'v2']) } }],
      },
    });
  }
  for (let i = 0; i < 5; i++) {
    const ns = pick(NS);
    const exp = pick(EXPORT);
    const delegate = chance(0.25);
    docs.push({
      apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: meta('VirtualService', i, ns),
      spec: delegate
        ? { http: [{ route: [{ destination: { host: pick(hostChoices.filter((h) => !h.startsWith('*'))), subset: pick(['v1', 'v2']) } }] }], ...(exp ? { exportTo: exp } : {}) }
        : {
            hosts: [pick(hostChoices.filter((h) => h !== '*'))],
            ...(chance(0.2) ? { gateways: pick([['gw'], ['mesh', 'gw']]) } : {}),
            ...(exp ? { exportTo: exp } : {}),
            http: [
              ...(chance(0.3) ? [{ match: [{ uri: { prefix: '/d' } }], delegate: { name: `virtualservice-${Math.floor(rnd() * 5)}`, namespace: pick(NS) } }] : []),
              ...(chance(0.3) ? [{ match: [{ sourceLabels: { app: pick(APPS) } }], route: [{ destination: { host: pick(hostChoices.filter((h) => !h.startsWith('*'))) } }] }] : []),
              { route: [{ destination: { host: pick(hostChoices.filter((h) => !h.startsWith('*'))), subset: pick(['v1', 'v2']) }, weight: 60 }, { destination: { host: pick(APPS) }, weight: 40 }] },
            ],
          },
    });
  }
  for (let i = 0; i < 5; i++) {
    docs.push({
      apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: meta('PeerAuthentication', i, pick(NS)),
      spec: { ...(chance(0.4) ? { selector: { matchLabels: { app: pick(APPS) } } } : {}), ...(chance(0.85) ? { mtls: { mode: pick(['STRICT', 'PERMISSIVE', 'DISABLE', 'UNSET']) } } : {}) },
    });
  }
  for (let i = 0; i < 4; i++) {
    docs.push({
      apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: meta('AuthorizationPolicy', i, pick(NS)),
      spec: { ...(chance(0.5) ? { selector: { matchLabels: { app: pick(APPS) } } } : {}), action: pick(['ALLOW', 'DENY']), rules: [{ to: [{ operation: { methods: [pick(['GET', 'POST'])] } }] }] },
    });
  }
  if (chance(0.5)) {
    docs.push({
      apiVersion: 'networking.istio.io/v1', kind: 'Sidecar', metadata: meta('Sidecar', 0, pick(NS)),
      spec: { ...(chance(0.4) ? { workloadSelector: { labels: { app: pick(APPS) } } } : {}), egress: [{ hosts: [pick(['./*', '*/*', 'istio-system/*', 'b/*'])] }], ...(chance(0.5) ? { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } } : {}) },
    });
  }
  return docs;
}

describe('viewForNamespace over random configurations', () => {
  it('decides as the whole configuration for every namespace and workload', () => {
    const acc: Comparison = { pairs: 0, requests: 0, smaller: 0 };
    const SEEDS = 300;
    const LABELS: Record<string, string>[] = [{}, { app: 'x' }, { app: 'y', version: 'v2' }];
    for (let seed = 1; seed <= SEEDS; seed++) {
      const { resources, diagnostics } = loadObjects(randomConfig(seed), `random-${seed}`);
      expect(diagnostics).toEqual([]);
      const workloads = ['a', 'b', 'c', 'istio-system', 'd'].flatMap((namespace) =>
        LABELS.map((labels): WorkloadIdentity => ({ namespace, labels, serviceAccount: 'w' })));
      compareViews(resources, workloads, undefined, `seed ${seed}`, acc);
    }
    console.log(`viewForNamespace over random configurations: ${acc.pairs} pairs, ${acc.requests} outbound requests, ${acc.smaller} with a smaller view`);
    expect(acc.pairs).toBe(SEEDS * 15);
  });
});

// ---------------------------------------------------------------------------------------

const keys = (rs: readonly Resource[]) => rs.map((r) => r.key);

function resourcesOf(yaml: string): Resource[] {
  const r = loadText(yaml, 'view.yaml');
  expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  const v = validateResources(r.resources);
  expect(v.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  return v.valid;
}

describe('viewForNamespace: what stays and what goes', () => {
  const config = resourcesOf(`
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: b}
spec: {selector: {app: reviews}, ports: [{name: http, port: 9080}]}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-1, namespace: b}
spec: {address: 10.0.0.1, labels: {app: reviews}, serviceAccount: bookinfo-reviews}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ratings-1, namespace: b}
spec: {address: 10.0.0.2, labels: {app: ratings}, serviceAccount: bookinfo-ratings}
---
apiVersion: v1
kind: Service
metadata: {name: secret, namespace: b, annotations: {networking.istio.io/exportTo: "."}}
spec: {selector: {app: secret}, ports: [{name: http, port: 80}]}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-all, namespace: b}
spec: {}
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: mesh-wide, namespace: istio-system}
spec: {action: DENY, rules: [{to: [{operation: {paths: ["/admin"]}}]}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-private, namespace: a}
spec:
  hosts: [reviews.b.svc.cluster.local]
  exportTo: ["."]
  http: [{route: [{destination: {host: reviews.b.svc.cluster.local}}], timeout: 1s}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews-public, namespace: b}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews}}], timeout: 2s}]
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: strict, namespace: b}
spec: {mtls: {mode: STRICT}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: reviews-permissive, namespace: b}
spec: {selector: {matchLabels: {app: reviews}}, mtls: {mode: PERMISSIVE}}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: mesh, namespace: istio-system}
spec: {mtls: {mode: PERMISSIVE}}
---
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: default, namespace: istio-system}
spec: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ingress, namespace: b}
spec: {selector: {istio: ingressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]}
`);
  const viewA = viewForNamespace(config, 'a');
  const viewB = viewForNamespace(config, 'b');
  const viewC = viewForNamespace(config, 'c');

  it('leaves out the AuthorizationPolicies of other namespaces', () => {
    expect(keys(viewA)).not.toContain('AuthorizationPolicy/b/deny-all');
    expect(keys(viewB)).toContain('AuthorizationPolicy/b/deny-all');
  });

  it('leaves out a VirtualService exported only to its own namespace', () => {
    expect(keys(viewA)).toContain('VirtualService/a/reviews-private');
    expect(keys(viewB)).not.toContain('VirtualService/a/reviews-private');
    expect(keys(viewC)).not.toContain('VirtualService/a/reviews-private');
    // ...and the client in a routes with its own VS, the client in c with b's.
    const route = (view: Resource[], ns: string) =>
      decideOutbound(compileSnapshot(view, { namespace: ns, labels: {} }), { method: 'GET', scheme: 'http', authority: 'reviews.b.svc.cluster.local:9080', port: 9080, target: '/', headers: {} });
    expect(route(viewA, 'a').virtualService?.id).toBe('a/reviews-private');
    expect(route(viewC, 'c').virtualService?.id).toBe('b/reviews-public');
  });

  it('keeps services exported to the namespace, and the WorkloadEntries behind them', () => {
    expect(keys(viewA)).toContain('Service/b/reviews');
    expect(keys(viewA)).not.toContain('Service/b/secret');
    expect(keys(viewA)).toContain('WorkloadEntry/b/reviews-1'); // an endpoint, and the service account secure naming accepts
    expect(keys(viewA)).not.toContain('WorkloadEntry/b/ratings-1'); // no service of b visible to a selects it
    expect(keys(viewB)).toContain('WorkloadEntry/b/ratings-1'); // the namespace's own entries stay
    const snap = compileSnapshot(viewA, { namespace: 'a', labels: {} });
    expect(snap.byHostname.get('reviews.b.svc.cluster.local')?.serviceAccounts).toEqual(['bookinfo-reviews']);
  });

  it("keeps another namespace's namespace-level PeerAuthentication (auto-mTLS reads it), not its workload-level ones", () => {
    expect(keys(viewA)).toContain('PeerAuthentication/b/strict');
    expect(keys(viewA)).not.toContain('PeerAuthentication/b/reviews-permissive');
    const snap = compileSnapshot(viewA, { namespace: 'a', labels: {} });
    expect(inferServerMtlsMode(snap, snap.byHostname.get('reviews.b.svc.cluster.local'))).toBe('STRICT');
    // A namespace with no service visible to c: nothing of b's mTLS matters to c.
    expect(keys(viewC)).toContain('PeerAuthentication/b/strict'); // reviews is exported to every namespace
    const isolated = viewForNamespace(config.filter((r) => r.key !== 'Service/b/reviews'), 'c');
    expect(keys(isolated)).not.toContain('PeerAuthentication/b/strict');
  });

  it('keeps root-namespace resources in every view', () => {
    for (const view of [viewA, viewB, viewC, viewForNamespace(config, 'istio-system'), viewForNamespace(config, 'nowhere')]) {
      expect(keys(view)).toEqual(expect.arrayContaining(['AuthorizationPolicy/istio-system/mesh-wide', 'PeerAuthentication/istio-system/mesh', 'Sidecar/istio-system/default']));
    }
    // The root namespace follows the mesh config.
    expect(keys(viewForNamespace(config, 'a', { rootNamespace: 'b' }))).toContain('AuthorizationPolicy/b/deny-all');
    expect(keys(viewForNamespace(config, 'a', { rootNamespace: 'b' }))).not.toContain('AuthorizationPolicy/istio-system/mesh-wide');
  });

  it("leaves out kinds the compiler does not read from other namespaces (a Gateway of b is not a's)", () => {
    expect(keys(viewA)).not.toContain('Gateway/b/ingress');
    expect(keys(viewB)).toContain('Gateway/b/ingress');
  });

  it('answers per mesh settings when the same resources are asked under several (per-resource facts are cached by mesh content)', () => {
    const rs = resourcesOf(`
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: b}
spec: {selector: {app: reviews}, ports: [{name: http, port: 9080}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews, namespace: b}
spec: {host: reviews.b.svc.example.org}
`);
    // The DestinationRule's host names the service only under domainSuffix example.org.
    const kept = (domainSuffix: string) => keys(viewForNamespace(rs, 'a', { domainSuffix })).includes('DestinationRule/b/reviews');
    expect(kept('cluster.local')).toBe(false);
    expect(kept('example.org')).toBe(true);
    expect(kept('cluster.local')).toBe(false);
  });

  it('returns the same objects in the same order', () => {
    expect(viewB.every((r) => config.includes(r))).toBe(true);
    expect(viewB.map((r) => config.indexOf(r))).toEqual([...viewB.map((r) => config.indexOf(r))].sort((x, y) => x - y));
  });
});

describe('viewForNamespace: DestinationRules', () => {
  // Istio picks the most specific host among a namespace's DRs first and filters by exportTo
  // after (push_context.go: getExportedDestinationRuleFromNamespace): b's DR for reviews,
  // exported to c only, hides b's wildcard DR from a, and a's lookup moves on to the root.
  const config = resourcesOf(`
apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: b}
spec: {selector: {app: reviews}, ports: [{name: http, port: 9080}]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: reviews-for-c, namespace: b}
spec: {host: reviews, exportTo: [c], trafficPolicy: {loadBalancer: {simple: RANDOM}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: all-of-b, namespace: b}
spec: {host: "*.b.svc.cluster.local", trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: mesh-default, namespace: istio-system}
spec: {host: "*.cluster.local", trafficPolicy: {loadBalancer: {simple: LEAST_REQUEST}}}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: b-private, namespace: b}
spec: {host: "*.svc.cluster.local", exportTo: ["."]}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: elsewhere, namespace: d}
spec: {host: reviews.b.svc.cluster.local}
`);
  const dr = (view: Resource[], ns: string) => compileSnapshot(view, { namespace: ns, labels: {} }).destinationRules.lookup('reviews.b.svc.cluster.local', 'b')?.ids ?? null;

  it('keeps a DR that is not exported to the namespace when it hides one that is', () => {
    const viewA = viewForNamespace(config, 'a');
    expect(dr(config, 'a')).toEqual(['istio-system/mesh-default']);
    expect(keys(viewA)).toContain('DestinationRule/b/reviews-for-c');
    expect(dr(viewA, 'a')).toEqual(['istio-system/mesh-default']);
    // Without it, b's wildcard DR would apply to a: the view must not change that.
    expect(dr(config.filter((r) => r.key !== 'DestinationRule/b/reviews-for-c'), 'a')).toEqual(['b/all-of-b']);
  });

  it("leaves out DRs the lookup never reaches: b's wildcard behind the hiding one, private ones, other namespaces'", () => {
    const viewA = keys(viewForNamespace(config, 'a'));
    expect(viewA).not.toContain('DestinationRule/b/all-of-b');
    expect(viewA).not.toContain('DestinationRule/b/b-private');
    expect(viewA).not.toContain('DestinationRule/d/elsewhere');
    const viewC = viewForNamespace(config, 'c');
    expect(keys(viewC)).toContain('DestinationRule/b/reviews-for-c');
    expect(keys(viewC)).not.toContain('DestinationRule/istio-system/mesh-default'); // c's lookup ends in b
    expect(dr(viewC, 'c')).toEqual(['b/reviews-for-c']);
    const viewD = viewForNamespace(config, 'd');
    expect(keys(viewD)).toContain('DestinationRule/d/elsewhere'); // the client's own namespace comes first
    expect(dr(viewD, 'd')).toEqual(['d/elsewhere']);
  });
});

describe('loadObjects', () => {
  const docs = [
    { apiVersion: 'v1', kind: 'Service', metadata: { name: 'reviews', namespace: 'bookinfo' }, spec: { selector: { app: 'reviews' }, ports: [{ name: 'http', port: 9080 }] } },
    { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'reviews' }, spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' } }] }] } },
    { apiVersion: 'networking.istio.io/v1', kind: 'WorkloadEntry', metadata: { name: 'r1', namespace: 'bookinfo', labels: { a: 'b' } }, spec: { address: '2001:db8::1', labels: { app: 'reviews', 'x.y/z': 'é ✓ \u2028' } } },
  ];
  const shape = (r: Resource) => ({ apiVersion: r.apiVersion, group: r.group, version: r.version, kind: r.kind, metadata: r.metadata, spec: r.spec, raw: r.raw, key: r.key, order: r.order });

  it('gives the resources loadText gives for the same documents', () => {
    const viaText = loadText(docs.map((d) => JSON.stringify(d)).join('\n---\n'), 'docs', {}, 3);
    const viaObjects = loadObjects(docs, 'docs', 3);
    expect(viaObjects.diagnostics).toEqual([]);
    expect(viaText.diagnostics).toEqual([]);
    expect(viaObjects.resources.map(shape)).toEqual(viaText.resources.map(shape));
    expect(viaObjects.resources.map((r) => r.order)).toEqual([3, 4, 5]);
    expect(viaObjects.files).toEqual(['docs']);
  });

  it('puts document i on line i + 1, with working locate()', () => {
    const { resources } = loadObjects(docs, 'snapshot.json');
    expect(resources.map((r) => r.source)).toEqual([1, 2, 3].map((line) => ({ file: 'snapshot.json', line, column: 1 })));
    const loc = resources[1]!.locate(['spec', 'http', 0, 'route', 0, 'destination', 'subset']);
    expect(loc.line).toBe(2);
    expect(JSON.stringify(docs[1]).slice(loc.column - 1)).toMatch(/^"subset"/);
  });

  it('reports an invalid document with its line, and loads the rest', () => {
    const bad = [docs[0], { kind: 'VirtualService', metadata: { name: 'x' } }, null, [1], 42, docs[1]];
    const r = loadObjects(bad, 'body');
    expect(r.resources.map((x) => x.key)).toEqual(['Service/bookinfo/reviews', 'VirtualService/default/reviews']);
    expect(r.resources.map((x) => [x.source.line, x.order])).toEqual([[1, 0], [6, 1]]);
    expect(r.diagnostics.map((d) => [d.severity, d.file, d.line, d.message])).toEqual([
      ['error', 'body', 2, 'apiVersion is missing'],
      ['error', 'body', 3, 'document 3 is null, not a Kubernetes object'],
      ['error', 'body', 4, 'document 4 is a list, not a Kubernetes object'],
      ['error', 'body', 5, 'document 5 is a number, not a Kubernetes object'],
    ]);
    const cyclic: Record<string, unknown> = { apiVersion: 'v1', kind: 'Service' };
    cyclic.self = cyclic;
    const c = loadObjects([cyclic, { apiVersion: 'v1', kind: 'Service', metadata: { name: 'n' }, spec: { x: 1n } }]);
    expect(c.resources).toEqual([]);
    expect(c.diagnostics.map((d) => [d.file, d.line, d.severity])).toEqual([['<objects>', 1, 'error'], ['<objects>', 2, 'error']]);
    expect(c.diagnostics[0]!.message).toMatch(/^document 1 cannot be written as JSON/);
  });

  it('goes through the same checks as loadText (limits per document)', () => {
    let deep: unknown = 'x';
    for (let i = 0; i < 80; i++) deep = { a: deep };
    const r = loadObjects([docs[0], { apiVersion: 'v1', kind: 'Service', metadata: { name: 'deep' }, spec: deep }]);
    expect(r.resources.map((x) => x.key)).toEqual(['Service/bookinfo/reviews']);
    expect(r.diagnostics).toHaveLength(1);
    expect(r.diagnostics[0]).toMatchObject({ severity: 'error', line: 2 });
    expect(r.diagnostics[0]!.message).toMatch(/nesting deeper than 64/);
    // Validation then reads the resources exactly as it reads YAML.
    expect(validateResources(loadObjects(docs.slice(0, 2)).resources).diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
  });
});

it('README: the view of one namespace (example runs as written)', async () => {
  // readme.test.ts runs the first example; this one runs the section's own, the same way:
  // saved inside the package, imported against the built package as users import it.
  const pkg = fileURLToPath(new URL('..', import.meta.url));
  const readme = readFileSync(join(pkg, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## The view of one namespace'));
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  expect(block).toBeDefined();
  mkdirSync(join(pkg, '.tmp'), { recursive: true });
  const file = join(pkg, '.tmp', 'readme-view-example.mjs');
  writeFileSync(file, block!);
  await import(/* @vite-ignore */ `${file}?t=${Date.now()}`);
});
