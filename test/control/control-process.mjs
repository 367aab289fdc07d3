// Runs a control service in its own process, so a test can SIGKILL it (no graceful close)
// and start it again on the same data directory and port. Prints one JSON line when listening.
import { startControlService } from '@meshwork/control';

const [dataDir, port] = process.argv.slice(2);
const service = await startControlService({ dataDir, port: Number(port), pollIntervalMs: 200, heartbeatTtlMs: 30_000, rateLimit: false });
process.stdout.write(`${JSON.stringify({ url: service.url, port: service.port, rootCertPath: service.rootCertPath, adminTokenPath: service.adminTokenPath })}\n`);
process.on('SIGTERM', () => void service.close().then(() => process.exit(0)));
