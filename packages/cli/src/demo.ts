/**
 * The README's first command: analyze Istio's Bookinfo samples and explain the requests of
 * the istio.io traffic-management tasks, read in place from the shared Istio corpus.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyzeCommand } from './analyze.js';
import { explainCommand } from './explain.js';
import { UsageError, type Io } from './io.js';

export function bookinfoDir(): string {
  const env = process.env.MESHWORK_ISTIO_SAMPLES;
  if (env) return env;
  const here = dirname(fileURLToPath(import.meta.url));
  // packages/cli/dist -> repository root -> ../shared
  return resolve(here, '../../../../shared/conformance/istio/samples/bookinfo');
}

export async function demoCommand(_args: string[], io: Io): Promise<number> {
  const dir = bookinfoDir();
  if (!existsSync(dir)) throw new UsageError(`Bookinfo samples not found at ${dir} (set MESHWORK_ISTIO_SAMPLES)`);
  const kube = join(dir, 'platform/kube/bookinfo.yaml');
  const net = (f: string) => join(dir, 'networking', f);
  const step = (title: string) => io.out(`\n=== ${title} ===\n`);

  step('meshwork analyze: Bookinfo workloads + every Bookinfo traffic rule at once');
  io.out('(all task variants applied together, so several VirtualServices claim the same host: istioctl reports that as IST0109)\n');
  const code = await analyzeCommand(['-f', kube, '-f', join(dir, 'networking')], io);
  io.out(`exit code ${code}\n`);

  const base = ['-f', kube, '-f', net('destination-rule-all.yaml')];
  const caller = ['--namespace', 'default', '--labels', 'app=productpage,version=v1'];
  const explain = async (title: string, files: string[], extra: string[], request: string) => {
    step(title);
    await explainCommand(['outbound', ...base, ...files.flatMap((f) => ['-f', net(f)]), ...caller, ...extra, request], io);
  };
  await explain('Request routing: every service to v1', ['virtual-service-all-v1.yaml'], [], 'GET http://reviews:9080/reviews/0');
  await explain('Header routing: end-user jason goes to reviews v2', ['virtual-service-reviews-test-v2.yaml'], ['-H', 'end-user: jason'], 'GET http://reviews:9080/reviews/0');
  await explain('Header routing: everyone else stays on v1', ['virtual-service-reviews-test-v2.yaml'], [], 'GET http://reviews:9080/reviews/0');
  await explain('Traffic shifting: 50% v1, 50% v3', ['virtual-service-reviews-50-v3.yaml'], [], 'GET http://reviews:9080/reviews/0');
  step('Fault injection: ratings delayed 7s for jason (caller: reviews v2)');
  await explainCommand(['outbound', ...base, '-f', net('virtual-service-ratings-test-delay.yaml'), '--namespace', 'default', '--labels', 'app=reviews,version=v2', '-H', 'end-user: jason', 'GET http://ratings:9080/ratings/0'], io);
  step('Fault injection: HTTP 500 for jason');
  await explainCommand(['outbound', ...base, '-f', net('virtual-service-ratings-test-abort.yaml'), '--namespace', 'default', '--labels', 'app=reviews,version=v2', '-H', 'end-user: jason', 'GET http://ratings:9080/ratings/0'], io);
  step('Unknown host under the default ALLOW_ANY policy');
  await explainCommand(['outbound', ...base, ...caller, 'GET https://api.example.com/v1/things'], io);
  return 0;
}
