/**
 * The in-process CA source: first certificate, rotation at half-life with Istio's jitter (on an
 * injected clock: no waiting), retries after failures, and what it refuses from a signer.
 */
import { X509Certificate } from 'node:crypto';
import { inspect } from 'node:util';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import {
  CertificateAuthority, IdentityError, createCaIdentitySource, issueIdentity, type CertificateSigner, type IdentityMaterial, type SourceClock,
} from '../src/index.js';

const REVIEWS = 'spiffe://cluster.local/ns/default/sa/reviews';
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** A clock whose timers fire only when the test says so. */
class ManualClock implements SourceClock {
  t = Date.now();
  timers = new Map<number, { fn: () => void; at: number; ms: number }>();
  #next = 1;
  now = (): number => this.t;
  setTimeout = (fn: () => void, ms: number): unknown => { const id = this.#next++; this.timers.set(id, { fn, at: this.t + ms, ms }); return id; };
  clearTimeout = (h: unknown): void => { this.timers.delete(h as number); };
  /** The one pending timer. */
  pending(): { fn: () => void; at: number; ms: number } {
    expect(this.timers.size).toBe(1);
    return [...this.timers.values()][0]!;
  }
  /** Moves the clock to the pending timer and fires it. */
  fire(): void {
    const [id, t] = [...this.timers.entries()][0]!;
    this.timers.delete(id);
    this.t = Math.max(this.t, t.at);
    t.fn();
  }
}

const nextChange = (source: { on: (e: 'change', l: (m: IdentityMaterial) => void) => { dispose(): void } }): Promise<IdentityMaterial> =>
  new Promise((resolve) => { const sub = source.on('change', (m) => { sub.dispose(); resolve(m); }); });

let ca: CertificateAuthority;
beforeAll(async () => { ca = await CertificateAuthority.selfSigned(); });

describe('createCaIdentitySource', () => {
  it('starts with a certificate for the workload, the key that goes with it, and the trust bundle', async () => {
    const source = await createCaIdentitySource({ signer: ca, spiffeId: { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'reviews' } });
    const m = source.current();
    expect(m.spiffeId).toBe(REVIEWS);
    expect(m.rootsPem).toEqual(ca.rootsPem);
    expect(m.keyPem).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const leaf = new X509Certificate(m.certChainPem);
    expect(leaf.subjectAltName).toBe(`URI:${REVIEWS}`);
    expect(leaf.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    expect(+m.notAfter - +m.notBefore).toBe(DAY + 2 * 60_000);
    await source.close();
  });

  it('never prints the private key (inspect, console, JSON loggers)', async () => {
    const source = await createCaIdentitySource({ signer: ca, spiffeId: REVIEWS });
    const m = source.current();
    for (const text of [inspect(m), JSON.stringify(m), `${JSON.stringify({ identity: m })}`]) {
      expect(text).not.toContain('PRIVATE KEY');
      expect(text).toContain('[redacted]');
      expect(text).toContain('BEGIN CERTIFICATE');
    }
    expect(m.keyPem).toContain('PRIVATE KEY'); // still there for code that reads it
    expect(Object.isFrozen(m)).toBe(true);
    await source.close();
  });

  it('uses RSA 2048 when asked', async () => {
    const source = await createCaIdentitySource({ signer: ca, spiffeId: REVIEWS, keyType: 'rsa-2048' });
    expect(new X509Certificate(source.current().certChainPem).publicKey.asymmetricKeyDetails?.modulusLength).toBe(2048);
    await source.close();
  });

  it('refuses bad options with the fix', async () => {
    await expect(createCaIdentitySource({ signer: ca, spiffeId: 'reviews' })).rejects.toThrow(/must start with "spiffe:\/\/"/);
    await expect(createCaIdentitySource({ signer: ca, spiffeId: REVIEWS, gracePeriodRatio: 1 })).rejects.toThrow(/gracePeriodRatio must be between 0 and 1/);
  });
});

describe('rotation', () => {
  it('is due at half-life, ±1 % of the lifetime (Istio\'s SECRET_GRACE_PERIOD_RATIO and jitter)', async () => {
    for (const [random, ratio] of [[0.5, 0.5], [0, 0.49], [0.999999, 0.51]] as const) {
      const clock = new ManualClock();
      const source = await createCaIdentitySource({ signer: ca, spiffeId: REVIEWS, clock, random: () => random });
      const m = source.current();
      const life = +m.notAfter - +m.notBefore;
      // "ratio" is the part of the lifetime left when rotating.
      expect(Math.abs(+source.nextRotation! - (+m.notAfter - ratio * life))).toBeLessThan(1000);
      expect(clock.pending().at).toBe(+source.nextRotation!);
      await source.close();
    }
  });

  it('makes a new key and certificate when the timer fires, and tells subscribers', async () => {
    const clock = new ManualClock();
    // The CA reads the same clock, so certificates are issued at the moment the timer fires.
    const clockedCa = await CertificateAuthority.selfSigned({ now: clock.now });
    const source = await createCaIdentitySource({ signer: clockedCa, spiffeId: REVIEWS, clock, random: () => 0.5 });
    const before = source.current();
    const changed = nextChange(source);
    clock.fire();
    const after = await changed;
    expect(after).toBe(source.current());
    expect(after.keyPem).not.toBe(before.keyPem);
    expect(new X509Certificate(after.certChainPem).serialNumber).not.toBe(new X509Certificate(before.certChainPem).serialNumber);
    // Issued now (notBefore 2 minutes back for skew), next due at its own half-life.
    expect(+after.notBefore).toBe(clock.now() - 2 * 60_000);
    expect(+source.nextRotation!).toBe(+after.notAfter - (+after.notAfter - +after.notBefore) / 2);
    expect(clock.timers.size).toBe(1); // the next rotation, and only it
    await source.close();
    expect(clock.timers.size).toBe(0);
    expect(source.nextRotation).toBeUndefined();
  });

  it('waits out lifetimes longer than a Node timer can hold (90 days) in steps', async () => {
    const clock = new ManualClock();
    const source = await createCaIdentitySource({ signer: ca, spiffeId: REVIEWS, clock, ttlMs: 90 * DAY, random: () => 0.5 });
    const due = +source.nextRotation!;
    expect(due - clock.now()).toBeGreaterThan(2 ** 31);
    expect(clock.pending().ms).toBe(2 ** 31 - 1);
    const serial = new X509Certificate(source.current().certChainPem).serialNumber;
    clock.fire(); // a step, not yet due: re-armed for the rest
    expect(clock.pending().at).toBe(due);
    expect(new X509Certificate(source.current().certChainPem).serialNumber).toBe(serial);
    await source.close();
  });

  it('rotateNow rotates at once; concurrent calls share one new certificate', async () => {
    const source = await createCaIdentitySource({ signer: ca, spiffeId: REVIEWS });
    const [a, b] = await Promise.all([source.rotateNow(), source.rotateNow()]);
    expect(a).toBe(b);
    expect(source.current()).toBe(a);
    await source.close();
    await expect(source.rotateNow()).rejects.toMatchObject({ reason: 'closed' });
  });

  it('keeps serving after a failed rotation, reports it, and retries with backoff', async () => {
    const clock = new ManualClock();
    let failing = false;
    const signer: CertificateSigner = { sign: (csr, req) => (failing ? Promise.reject(new Error('control service unreachable')) : ca.sign(csr, req)) };
    const source = await createCaIdentitySource({ signer, spiffeId: REVIEWS, clock, retryInitialMs: 1000, retryMaxMs: 4000 });
    const first = source.current();
    const errors: IdentityError[] = [];
    source.on('error', (e) => errors.push(e));
    failing = true;
    const delays: number[] = [];
    for (let i = 0; i < 4; i++) {
      clock.fire();
      await new Promise<void>((resolve) => { const check = (): void => { if (errors.length > i) resolve(); else setImmediate(check); }; check(); });
      delays.push(clock.pending().ms);
    }
    expect(delays).toEqual([1000, 2000, 4000, 4000]);
    expect(errors[0]).toBeInstanceOf(IdentityError);
    expect(errors[0]!.reason).toBe('signing_failed');
    expect(errors[0]!.message).toBe(`the signer failed to sign ${REVIEWS}: control service unreachable`);
    expect(source.current()).toBe(first);
    failing = false;
    const changed = nextChange(source);
    clock.fire();
    expect((await changed).spiffeId).toBe(REVIEWS);
    await source.close();
  });

  it('refuses what a signer returns for another identity or another key', async () => {
    const other: CertificateSigner = { sign: (csr) => ca.sign(csr, { spiffeId: 'spiffe://cluster.local/ns/default/sa/ratings' }) };
    await expect(createCaIdentitySource({ signer: other, spiffeId: REVIEWS })).rejects.toThrow(
      `the signer returned a certificate for spiffe://cluster.local/ns/default/sa/ratings instead of ${REVIEWS}`,
    );
    const spare = await createCaIdentitySource({ signer: ca, spiffeId: REVIEWS });
    const stale: CertificateSigner = { sign: async () => ({ certChainPem: spare.current().certChainPem, rootsPem: ca.rootsPem }) };
    await expect(createCaIdentitySource({ signer: stale, spiffeId: REVIEWS })).rejects.toThrow(/a certificate for another key/);
    await spare.close();
  });

  it('a listener that throws does not stop the others', async () => {
    const source = await createCaIdentitySource({ signer: ca, spiffeId: REVIEWS });
    const warnings: string[] = [];
    const onWarning = (w: Error): void => { warnings.push(w.message); };
    process.on('warning', onWarning);
    source.on('change', () => { throw new Error('boom'); });
    const changed = nextChange(source);
    await source.rotateNow();
    await changed;
    await new Promise((r) => setImmediate(r));
    process.off('warning', onWarning);
    expect(warnings).toContain('an identity listener threw: boom');
    await source.close();
  });

  it('uses unref\'d timers with the real clock, so it never keeps a process alive', async () => {
    const created: { timer: NodeJS.Timeout; ms: number }[] = [];
    const real = globalThis.setTimeout;
    const spy = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      const timer = real(fn, ms);
      created.push({ timer, ms: ms ?? 0 });
      return timer;
    }) as typeof setTimeout);
    try {
      const source = await createCaIdentitySource({ signer: ca, spiffeId: REVIEWS });
      expect(source.nextRotation).toBeInstanceOf(Date);
      // The rotation timer: about 12 hours.
      const rotation = created.find((t) => Math.abs(t.ms - (+source.nextRotation! - Date.now())) < 60_000);
      expect(rotation).toBeDefined();
      expect(rotation!.timer.hasRef()).toBe(false);
      await source.close();
    } finally {
      spy.mockRestore();
    }
  });
});

describe('createCaIdentitySource with a kept certificate (initial)', () => {
  const failing: CertificateSigner = { sign: async () => { throw new Error('the control service is away'); } };

  it('starts from a valid kept certificate without asking the signer, and rotates it when due', async () => {
    const kept = (await createCaIdentitySource({ signer: ca, spiffeId: REVIEWS })).current();
    const clock = new ManualClock();
    const sign = vi.fn(ca.sign.bind(ca));
    const source = await createCaIdentitySource({ signer: { sign }, spiffeId: REVIEWS, initial: kept, clock, random: () => 0.5 });
    expect(sign).not.toHaveBeenCalled();
    expect(source.current().certChainPem).toBe(kept.certChainPem);
    // Rotation due at half-life of the kept certificate.
    const due = clock.pending().at;
    expect(due).toBe(Math.round(+kept.notAfter - 0.5 * (+kept.notAfter - +kept.notBefore)));
    const changed = nextChange(source);
    clock.fire();
    const next = await changed;
    expect(sign).toHaveBeenCalledTimes(1);
    expect(next.certChainPem).not.toBe(kept.certChainPem);
    await source.close();
  });

  it('keeps serving the kept certificate while the signer is away', async () => {
    const kept = (await createCaIdentitySource({ signer: ca, spiffeId: REVIEWS })).current();
    const clock = new ManualClock();
    clock.t = +kept.notAfter - 60_000; // past half-life: rotation due at once
    const source = await createCaIdentitySource({ signer: failing, spiffeId: REVIEWS, initial: kept, clock });
    const errors: IdentityError[] = [];
    source.on('error', (e) => errors.push(e));
    clock.fire();
    await vi.waitFor(() => expect(errors.length).toBe(1));
    expect(source.current().certChainPem).toBe(kept.certChainPem);
    await source.close();
  });

  it('ignores a kept certificate that is expired, of another identity, or not from its roots', async () => {
    const kept = (await createCaIdentitySource({ signer: ca, spiffeId: REVIEWS })).current();
    const expired = await issueIdentity(ca, { spiffeId: REVIEWS, notBefore: new Date(Date.now() - 2 * DAY), notAfter: new Date(Date.now() - DAY) });
    const other = await CertificateAuthority.selfSigned();
    const cases: IdentityMaterial[] = [expired, { ...kept, spiffeId: 'spiffe://cluster.local/ns/default/sa/ratings' }, { ...kept, rootsPem: other.rootsPem }];
    for (const initial of cases) {
      const sign = vi.fn(ca.sign.bind(ca));
      const source = await createCaIdentitySource({ signer: { sign }, spiffeId: REVIEWS, initial, clock: new ManualClock() });
      expect(sign).toHaveBeenCalledTimes(1);
      expect(source.current().certChainPem).not.toBe(initial.certChainPem);
      await source.close();
    }
  });
});
