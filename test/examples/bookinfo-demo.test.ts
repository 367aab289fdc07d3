/**
 * The README's first command, run as a newcomer runs it: examples/bookinfo-demo starts a
 * control service and seven Bookinfo processes, applies Istio's Bookinfo files one by one,
 * and each step's traffic does what the file says.
 */
import { execFileSync } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const demo = resolve(fileURLToPath(import.meta.url), '../../../examples/bookinfo-demo/index.mjs');

interface Share { v1: number; v2: number; v3: number; n: number }
interface Step { step: number; file: string | null; pushMs: number; anonymous: Share; jason: Share; ratingsOk: number; ratingsErr: number; failed: number }

it('the live Bookinfo demo: every step routes as its Istio file says, over STRICT mTLS, with no failed request', () => {
  const out = execFileSync(process.execPath, [demo, '--requests', '200'], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, MESHWORK_DEMO_JSON: '1' } });
  const line = out.split('\n').find((l) => l.startsWith('{"results"'));
  expect(line, out).toBeDefined();
  const steps = (JSON.parse(line!) as { results: Step[] }).results;
  expect(steps.map((s) => s.file)).toEqual([null, 'destination-rule-all-mtls.yaml', 'virtual-service-all-v1.yaml', 'virtual-service-reviews-80-20.yaml', 'virtual-service-reviews-test-v2.yaml', 'virtual-service-ratings-test-abort.yaml']);
  for (const s of steps) {
    expect(s.failed, `step ${s.step}`).toBe(0);
    expect(s.anonymous.n + s.jason.n).toBe(200);
  }
  const [none, dr, allV1, shift, jason, abort] = steps as [Step, Step, Step, Step, Step, Step];
  // No rules: least-request balancing over the three versions; each gets a fair share
  // (200 calls, p = 1/3: 5 standard deviations are 33 calls).
  for (const s of [none, dr]) for (const v of ['v1', 'v2', 'v3'] as const) expect(Math.abs(s.anonymous[v] + s.jason[v] - 200 / 3)).toBeLessThanOrEqual(33);
  expect(allV1.anonymous.v1 + allV1.jason.v1).toBe(200);
  // 80/20: 200 calls at p = 0.2, 5 standard deviations are 28 calls; never v3.
  expect(Math.abs(shift.anonymous.v2 + shift.jason.v2 - 40)).toBeLessThanOrEqual(28);
  expect(shift.anonymous.v3 + shift.jason.v3).toBe(0);
  expect(jason.jason.v2).toBe(100);
  expect(jason.anonymous.v1).toBe(100);
  expect(jason.ratingsOk).toBe(100);
  // The abort for jason: reviews v2 answers, its ratings call gets Istio's injected 500.
  expect(abort.jason.v2).toBe(100);
  expect(abort.ratingsErr).toBe(100);
  expect(abort.ratingsOk).toBe(0);
  for (const s of steps.slice(1)) expect(s.pushMs).toBeGreaterThan(0);
});
