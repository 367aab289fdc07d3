// The control service of the control benchmark, alone in its process so that its RSS is its own.
// Started with IPC by control.mjs; prints nothing on stdout. Messages:
//   → { type: 'listening', url, port, rootCertPath, adminTokenPath, pid } once it listens
//   ← { type: 'memory' }  → { type: 'memory', rss, heapUsed, heapTotal, external, arrayBuffers, vmRss, vmHwm, liveHeap }
//   ← { type: 'memory-detail' }  → { type: 'memory-detail', heapSpaces, rssByMapping } where the RSS goes, for
//                          debugging: V8's spaces (committed and used bytes) and /proc/self/smaps' resident
//                          bytes by mapping (the node binary, malloc's main arena `[heap]`, anonymous
//                          mappings: V8's pages, other threads' malloc arenas...); control.mjs sends it with --memory-detail
//   ← { type: 'stop' }    closes the service and exits 0 (so --cpu-prof writes its profile)
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import { tuneControlServiceProcess } from '@meshwork/control/process';

// This process stands for `meshwork control`, which tunes its heap the same way, before the
// rest of the service is even loaded; `--v8-defaults` on control.mjs measures V8's own settings.
if (!process.env.MESHWORK_BENCH_V8_DEFAULTS) tuneControlServiceProcess();
const { startControlService } = await import('@meshwork/control');

const { dataDir, heartbeatTtlMs } = JSON.parse(process.argv[2]);
const service = await startControlService({ dataDir, port: 0, heartbeatTtlMs });

function vm(field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Resident bytes per mapping name in /proc/self/smaps (anonymous mappings under '[anon]'). */
function rssByMapping() {
  const out = {};
  let name = '[anon]';
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const head = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) name = head[1] || '[anon]';
    else if (line.startsWith('Rss:')) out[name] = (out[name] ?? 0) + Number(line.split(/\s+/)[1]) * 1024;
  }
  return out;
}

process.on('message', (m) => {
  if (m?.type === 'memory') {
    const before = { ...process.memoryUsage(), vmRss: vm('VmRSS'), vmHwm: vm('VmHWM') };
    // Then what is live (started with --expose-gc): the RSS above is the figure, this explains it.
    globalThis.gc?.();
    process.send({ type: 'memory', ...before, liveHeap: process.memoryUsage().heapUsed });
  } else if (m?.type === 'memory-detail') {
    const heapSpaces = v8.getHeapSpaceStatistics().map((s) => ({ name: s.space_name, size: s.space_size, used: s.space_used_size, physical: s.physical_space_size }));
    process.send({ type: 'memory-detail', heapSpaces, rssByMapping: rssByMapping() });
  } else if (m?.type === 'stop') {
    service.close().then(() => process.exit(0), () => process.exit(1));
  }
});
// The parent went away: do not outlive it.
process.on('disconnect', () => process.exit(0));
process.send({ type: 'listening', url: service.url, port: service.port, rootCertPath: service.rootCertPath, adminTokenPath: service.adminTokenPath, pid: process.pid });
