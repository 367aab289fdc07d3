// The control service of the control benchmark, alone in its process so that its RSS is its own.
// Started with IPC by control.mjs; prints nothing on stdout. Messages:
//   → { type: 'listening', url, port, rootCertPath, adminTokenPath, pid } once it listens
//   ← { type: 'memory' }  → { type: 'memory', rss, heapUsed, heapTotal, external, arrayBuffers, vmRss, vmHwm, liveHeap }
//   ← { type: 'stop' }    closes the service and exits 0 (so --cpu-prof writes its profile)
import { readFileSync } from 'node:fs';
import { startControlService } from '@meshwork/control';

const { dataDir, heartbeatTtlMs } = JSON.parse(process.argv[2]);
const service = await startControlService({ dataDir, port: 0, heartbeatTtlMs });

function vm(field) {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) * 1024 : NaN;
}

process.on('message', (m) => {
  if (m?.type === 'memory') {
    const before = { ...process.memoryUsage(), vmRss: vm('VmRSS'), vmHwm: vm('VmHWM') };
    // Then what is live (started with --expose-gc): the RSS above is the figure, this explains it.
    globalThis.gc?.();
    process.send({ type: 'memory', ...before, liveHeap: process.memoryUsage().heapUsed });
  } else if (m?.type === 'stop') {
    service.close().then(() => process.exit(0), () => process.exit(1));
  }
});
// The parent went away: do not outlive it.
process.on('disconnect', () => process.exit(0));
process.send({ type: 'listening', url: service.url, port: service.port, rootCertPath: service.rootCertPath, adminTokenPath: service.adminTokenPath, pid: process.pid });
