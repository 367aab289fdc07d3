/**
 * A workload identity issued by a signer (the in-process CA, or the control service's CA):
 * key pair, CSR, signature, and rotation when half of the lifetime has passed, as Istio's node
 * agent does (`SECRET_GRACE_PERIOD_RATIO` 0.5 with ±1 % jitter). Each rotation makes a new key.
 */
import type { CertificateSigner } from './ca.js';
import { verifyChain } from './certificate.js';
import { SECRET_GRACE_PERIOD_RATIO, SECRET_GRACE_PERIOD_RATIO_JITTER } from './defaults.js';
import { IdentityError, messageOf } from './errors.js';
import { issueIdentity } from './issue.js';
import type { KeyType } from './keys.js';
import { Listeners, material, type Disposable, type IdentityMaterial, type IdentitySource, type IdentitySourceEvents } from './source.js';
import { formatSpiffeId, parseSpiffeId, type SpiffeIdParts } from './spiffe.js';

/** Timers and clock a source uses; inject them in tests to rotate without waiting. */
export interface SourceClock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** Options of {@link createCaIdentitySource}. */
export interface CaIdentitySourceOptions {
  /** Who signs: a {@link CertificateAuthority} or any {@link CertificateSigner}. */
  signer: CertificateSigner;
  /** The workload's identity, as a SPIFFE ID or its parts. */
  spiffeId: string | SpiffeIdParts;
  /** Default ECDSA P-256. */
  keyType?: KeyType;
  /** Requested lifetime (Istio's `SECRET_TTL`, default 24 h; the CA may cap it). */
  ttlMs?: number;
  /** Rotate when this fraction of the lifetime remains (default 0.5, `SECRET_GRACE_PERIOD_RATIO`). */
  gracePeriodRatio?: number;
  /** ± jitter on the ratio (default 0.01). */
  gracePeriodJitter?: number;
  /** After a failed rotation, retry after this long, doubling up to `retryMaxMs` (defaults 1 s, 5 min). */
  retryInitialMs?: number;
  retryMaxMs?: number;
  /** Defaults to the real clock with unref'd timers (they never keep the process alive). */
  clock?: SourceClock;
  /** Random source in [0, 1) for the jitter; for tests. */
  random?: () => number;
  /**
   * A certificate kept from an earlier run (a workload's disk cache): when it carries
   * `spiffeId` and is still valid, the source starts with it at once, without asking the
   * signer, and rotates it when due (at once if its half-life has passed). A signer that is
   * away then only delays the rotation: the cached certificate keeps serving.
   */
  initial?: IdentityMaterial | undefined;
}

/** An {@link IdentitySource} fed by a signer. */
export interface CaIdentitySource extends IdentitySource {
  /** Makes a new key and certificate now (and reschedules the next rotation). */
  rotateNow(): Promise<IdentityMaterial>;
  /** When the next rotation is due (undefined once closed). */
  readonly nextRotation: Date | undefined;
}

/** Node refuses timers longer than 2^31-1 ms (about 24.8 days) and would fire them at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

const realClock: SourceClock = {
  now: Date.now,
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout(h) { clearTimeout(h as NodeJS.Timeout); },
};

/**
 * Creates a source that holds a certificate from `signer` and renews it at half-life.
 * Resolves once the first certificate is issued; rejects if that fails.
 *
 * @example
 * ```ts
 * const source = await createCaIdentitySource({ signer: ca, spiffeId: 'spiffe://cluster.local/ns/default/sa/reviews' });
 * source.current().certChainPem;
 * ```
 */
export async function createCaIdentitySource(options: CaIdentitySourceOptions): Promise<CaIdentitySource> {
  const spiffeId = typeof options.spiffeId === 'string' ? options.spiffeId : formatSpiffeId(options.spiffeId);
  parseSpiffeId(spiffeId);
  const ratio = options.gracePeriodRatio ?? SECRET_GRACE_PERIOD_RATIO;
  const jitter = options.gracePeriodJitter ?? SECRET_GRACE_PERIOD_RATIO_JITTER;
  if (!(ratio > 0 && ratio < 1)) throw new IdentityError(`gracePeriodRatio must be between 0 and 1 (exclusive), got ${ratio}`, { reason: 'invalid_option' });
  if (!(jitter >= 0 && jitter < ratio && ratio + jitter < 1)) throw new IdentityError(`gracePeriodJitter must be >= 0 and keep the ratio inside (0, 1), got ${jitter}`, { reason: 'invalid_option' });
  const source = new SignedSource(options, spiffeId, ratio, jitter);
  const initial = options.initial;
  if (initial && initial.spiffeId === spiffeId && usable(initial, (options.clock ?? realClock).now())) {
    source.adopt(material(initial));
    return source;
  }
  await source.rotateNow();
  return source;
}

/** A kept certificate is used only if it still chains to its roots, is valid now and names its SPIFFE ID. */
function usable(m: IdentityMaterial, now: number): boolean {
  try {
    return verifyChain(m.certChainPem, m.rootsPem, { at: now }).spiffeId === m.spiffeId;
  } catch {
    return false;
  }
}

class SignedSource implements CaIdentitySource {
  readonly #o: CaIdentitySourceOptions;
  readonly #spiffeId: string;
  readonly #ratio: number;
  readonly #jitter: number;
  readonly #clock: SourceClock;
  readonly #random: () => number;
  readonly #listeners = new Listeners();
  #material: IdentityMaterial | undefined;
  #timer: unknown;
  #due: number | undefined;
  #retryMs: number;
  #inflight: Promise<IdentityMaterial> | undefined;
  #closed = false;

  constructor(o: CaIdentitySourceOptions, spiffeId: string, ratio: number, jitter: number) {
    this.#o = o;
    this.#spiffeId = spiffeId;
    this.#ratio = ratio;
    this.#jitter = jitter;
    this.#clock = o.clock ?? realClock;
    this.#random = o.random ?? Math.random;
    this.#retryMs = o.retryInitialMs ?? 1000;
  }

  current(): IdentityMaterial {
    if (!this.#material) throw new IdentityError('the source has no certificate yet', { reason: 'signing_failed' });
    return this.#material;
  }

  get nextRotation(): Date | undefined {
    return this.#due === undefined ? undefined : new Date(this.#due);
  }

  on<E extends keyof IdentitySourceEvents>(event: E, listener: IdentitySourceEvents[E]): Disposable {
    return this.#listeners.on(event, listener);
  }

  /** Starts from material issued earlier; rotation follows its own schedule. */
  adopt(m: IdentityMaterial): void {
    this.#material = m;
    this.#schedule(this.#rotationTime(m));
  }

  rotateNow(): Promise<IdentityMaterial> {
    if (this.#closed) return Promise.reject(new IdentityError('the identity source is closed', { reason: 'closed' }));
    // Concurrent callers share one rotation rather than make several keys.
    this.#inflight ??= this.#rotate().finally(() => { this.#inflight = undefined; });
    return this.#inflight;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#cancel();
    this.#due = undefined;
    this.#listeners.clear();
  }

  async #rotate(): Promise<IdentityMaterial> {
    const m = await issueIdentity(this.#o.signer, { spiffeId: this.#spiffeId, keyType: this.#o.keyType, ttlMs: this.#o.ttlMs, now: this.#clock.now() });
    if (this.#closed) return m;
    this.#material = m;
    this.#retryMs = this.#o.retryInitialMs ?? 1000;
    this.#schedule(this.#rotationTime(m));
    this.#listeners.change(m);
    return m;
  }

  /**
   * Istio's `rotateTime`: rotate when (ratio ± jitter) of the lifetime remains, i.e. at
   * half-life for the default ratio.
   */
  #rotationTime(m: IdentityMaterial): number {
    const life = +m.notAfter - +m.notBefore;
    const ratio = this.#ratio + (this.#random() * 2 - 1) * this.#jitter;
    return Math.round(+m.notAfter - ratio * life);
  }

  #schedule(at: number): void {
    this.#cancel();
    this.#due = at;
    this.#arm();
  }

  #arm(): void {
    if (this.#closed || this.#due === undefined) return;
    const delay = Math.max(0, this.#due - this.#clock.now());
    // Long waits (90-day certificates) are made of steps a timer can hold.
    this.#timer = this.#clock.setTimeout(() => {
      this.#timer = undefined;
      if (this.#due !== undefined && this.#clock.now() < this.#due) { this.#arm(); return; }
      this.rotateNow().catch((e: unknown) => this.#failed(e));
    }, Math.min(delay, MAX_TIMER_MS));
  }

  #failed(e: unknown): void {
    if (this.#closed) return;
    const err = e instanceof IdentityError ? e : new IdentityError(`certificate rotation for ${this.#spiffeId} failed: ${messageOf(e)}`, { reason: 'signing_failed', cause: e });
    this.#listeners.error(err);
    this.#schedule(this.#clock.now() + this.#retryMs);
    this.#retryMs = Math.min(this.#retryMs * 2, this.#o.retryMaxMs ?? 5 * 60_000);
  }

  #cancel(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}
