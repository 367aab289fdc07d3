/** examples/bookinfo-live.mjs runs as users run it, and its figures hold. */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const example = resolve(fileURLToPath(import.meta.url), '../../../examples/bookinfo-live.mjs');

it('bookinfo-live routes, header-matches and shifts real fetch() traffic', () => {
  const out = execFileSync(process.execPath, [example], { encoding: 'utf8', timeout: 60_000 });
  const line = (rules: string, title: string) => out.split('\n').find((l) => l.includes(rules) && l.startsWith(title)) ?? '';
  expect(line('virtual-service-all-v1.yaml', 'every request to v1')).toMatch(/reviews-v1 100%$/);
  expect(line('virtual-service-reviews-test-v2.yaml', 'end-user jason')).toMatch(/reviews-v2 100%$/);
  expect(line('virtual-service-reviews-test-v2.yaml', 'everyone else')).toMatch(/reviews-v1 100%$/);
  const v2 = Number(/reviews-v2 (\d+)%/.exec(line('virtual-service-reviews-80-20.yaml', 'traffic shifting 80/20'))?.[1]);
  // 200 requests at 20 %: 5 standard deviations are 14 percentage points.
  expect(Math.abs(v2 - 20)).toBeLessThanOrEqual(14);
  const v3 = Number(/reviews-v3 (\d+)%/.exec(line('virtual-service-reviews-50-v3.yaml', 'traffic shifting 50/50'))?.[1]);
  expect(Math.abs(v3 - 50)).toBeLessThanOrEqual(18);
});
