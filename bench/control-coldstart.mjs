// A workload's cold start against the control service, for the control benchmark: `new Mesh({
// controlUrl, token, controlCa, control: { group } })` (no disk cache: register, key and CSR,
// certificate, first snapshot), `await mesh.ready()`, then one meshed request to a MeshServer
// registered in the control service (auto-mTLS). Prints one JSON line.
//   mode 'fresh': one start in this new process; also reports when the process started
//                 (performance.now() counts from the process's start, so `bootMs` is Node's
//                 start plus the imports).
//   mode 'warm':  `starts` fresh Meshes one after another in this process, after one unmeasured.
const bootMs = performance.now();
const [{ Mesh }, { createMeshDispatcher }, { request }] = await Promise.all([
  import('@meshwork/core'), import('@meshwork/fetch'), import('undici'),
]);
const importMs = performance.now() - bootMs;

const cfg = JSON.parse(process.argv[2]);

async function once(token) {
  const t0 = performance.now();
  let applied;
  const mesh = new Mesh({
    controlUrl: cfg.url, token, controlCa: cfg.ca, control: { group: cfg.group }, onControlError: () => {},
    // Also called for the local reconfiguration after registration: the first call once the
    // snapshot in force came from the control service is the one timed.
    onConfigApplied: () => {
      const at = performance.now();
      queueMicrotask(() => { if (mesh.controlStatus()?.source === 'control') applied ??= at; });
    },
  });
  const dispatcher = createMeshDispatcher({ mesh });
  try {
    await mesh.ready(10_000);
    const t1 = performance.now();
    const r = await request(cfg.target, { dispatcher });
    const body = await r.body.text();
    const t2 = performance.now();
    if (r.statusCode !== 200) throw new Error(`meshed request: ${r.statusCode} ${body.slice(0, 200)}`);
    return { appliedMs: (applied ?? NaN) - t0, readyMs: t1 - t0, requestMs: t2 - t1, totalMs: t2 - t0, principal: JSON.parse(body).principal };
  } finally {
    await dispatcher.close();
    await mesh.close();
  }
}

try {
  if (cfg.mode === 'fresh') {
    const r = await once(cfg.tokens[0]);
    console.log(JSON.stringify({ status: 'ok', bootMs, importMs, ...r }));
  } else {
    await once(cfg.tokens[0]); // warms up the JIT and the module graph
    const runs = [];
    for (let i = 0; i < cfg.starts; i++) runs.push(await once(cfg.tokens[1 + i]));
    console.log(JSON.stringify({ status: 'ok', runs }));
  }
  process.exit(0);
} catch (e) {
  console.log(JSON.stringify({ status: 'failed', error: e.stack ?? String(e) }));
  process.exit(1);
}
