import { afterEach, describe, expect, it, vi } from 'vitest';
import { isBreakerFailure, meshBreaker, type MeshBreakerEvent } from '../src/breaker.js';
import { Code, MeshError } from '../src/errors.js';

const open: { shutdown(): void }[] = [];
function track<B extends { shutdown(): void }>(b: B): B {
  open.push(b);
  return b;
}

afterEach(() => {
  for (const b of open.splice(0)) b.shutdown();
  vi.useRealTimers();
});

interface Deferred<T> {
  promise: Promise<T>;
  resolve(v: T): void;
  reject(e: unknown): void;
}
function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };
function settle<T>(p: Promise<T>): Promise<Settled<T>> {
  return p.then(
    (value) => ({ ok: true as const, value }),
    (error: unknown) => ({ ok: false as const, error }),
  );
}

/** Lets queued promise callbacks (bulkhead hand-offs, opossum's settle chain) run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}

function expectMeshError(e: unknown, code: number, reason: string): MeshError {
  expect(e).toBeInstanceOf(MeshError);
  const m = e as MeshError;
  expect(m.code).toBe(code);
  expect(m.reason).toBe(reason);
  return m;
}

function record(b: { on(event: MeshBreakerEvent, l: () => void): { dispose(): void } }): { seen: MeshBreakerEvent[]; dispose(): void } {
  const seen: MeshBreakerEvent[] = [];
  const events: MeshBreakerEvent[] = ['open', 'close', 'halfOpen', 'reject', 'timeout', 'success', 'failure', 'fallback'];
  const subs = events.map((ev) => b.on(ev, () => seen.push(ev)));
  return { seen, dispose: () => subs.forEach((s) => s.dispose()) };
}

describe('opening', () => {
  it('opens only once the window holds volumeThreshold calls (default 20, as Hystrix)', async () => {
    const err = new Error('down');
    const fn = vi.fn(async () => {
      throw err;
    });
    const b = track(meshBreaker(fn, { name: 'reviews' }));
    for (let i = 0; i < 19; i++) await expect(b()).rejects.toBe(err);
    expect(b.state).toBe('closed');
    await expect(b()).rejects.toBe(err);
    expect(b.state).toBe('open');
    expect(fn).toHaveBeenCalledTimes(20);
    expect(b.stats()).toMatchObject({ state: 'open', calls: 20, failures: 20, successes: 0 });
  });

  it('opens when failures reach errorThresholdPercentage of the window, not below it', async () => {
    let fail = false;
    const fn = vi.fn(async () => {
      if (fail) throw new Error('down');
      return 'ok';
    });
    const b = track(meshBreaker(fn, { name: 'ratings', volumeThreshold: 10, errorThresholdPercentage: 50 }));
    for (let i = 0; i < 6; i++) await expect(b()).resolves.toBe('ok');
    fail = true;
    for (let i = 0; i < 4; i++) await expect(b()).rejects.toThrow('down');
    expect(b.state).toBe('closed'); // 4 of 10: 40%
    await expect(b()).rejects.toThrow('down');
    expect(b.state).toBe('closed'); // 5 of 11: 45%
    await expect(b()).rejects.toThrow('down');
    expect(b.state).toBe('open'); // 6 of 12: 50% reaches the threshold (Hystrix: >=)
  });

  it('never opens below a threshold of 100 unless every call fails', async () => {
    let fail = false;
    const b = track(
      meshBreaker(
        async () => {
          if (fail) throw new Error('down');
        },
        { name: 'all', volumeThreshold: 2, errorThresholdPercentage: 100 },
      ),
    );
    await b();
    fail = true;
    for (let i = 0; i < 5; i++) await expect(b()).rejects.toThrow('down');
    expect(b.state).toBe('closed');
    const c = track(
      meshBreaker(
        async () => {
          throw new Error('down');
        },
        { name: 'all2', volumeThreshold: 2, errorThresholdPercentage: 100 },
      ),
    );
    await expect(c()).rejects.toThrow('down');
    await expect(c()).rejects.toThrow('down');
    expect(c.state).toBe('open');
  });
});

describe('while open', () => {
  it('rejects fast with MeshError Unavailable circuit_open naming the breaker, without calling fn', async () => {
    const fn = vi.fn(async (_id: number) => {
      throw new Error('down');
    });
    const b = track(meshBreaker(fn, { name: 'details', volumeThreshold: 1 }));
    await expect(b(1)).rejects.toThrow('down');
    expect(b.state).toBe('open');
    const r = await settle(b(2));
    expect(r.ok).toBe(false);
    const m = expectMeshError(!r.ok && r.error, Code.Unavailable, 'circuit_open');
    expect(m.message).toContain('"details"');
    expect(m.flag).toBe('UO');
    expect(fn).toHaveBeenCalledTimes(1);
    expect(b.stats()).toMatchObject({ calls: 2, failures: 1, rejects: 1 });
  });

  it('answers from the fallback, which gets the error first and then the arguments', async () => {
    const down = new Error('down');
    const fn = vi.fn(async (id: number, _opt?: string) => {
      if (id > 0) throw down;
      return `live:${id}`;
    });
    const fallback = vi.fn((error: unknown, id: number, opt?: string) => `cached:${id}:${opt ?? '-'}:${error instanceof MeshError ? error.reason : 'fn'}`);
    const b = track(meshBreaker(fn, { name: 'reviews', volumeThreshold: 1, fallback }));
    // The failing call itself falls back, with fn's own error.
    await expect(b(1)).resolves.toBe('cached:1:-:fn');
    expect(fallback.mock.calls[0]?.[0]).toBe(down);
    expect(b.state).toBe('open');
    // Now rejected without running fn; optional arguments left out do not shift the error.
    await expect(b(0)).resolves.toBe('cached:0:-:circuit_open');
    await expect(b(0, 'x')).resolves.toBe('cached:0:x:circuit_open');
    expect(fn).toHaveBeenCalledTimes(1);
    expect(b.stats()).toMatchObject({ rejects: 2, fallbacks: 3 });
  });

  it('passes a failing fallback error to the caller', async () => {
    const b = track(
      meshBreaker(
        async () => {
          throw new Error('down');
        },
        {
          name: 'fb',
          volumeThreshold: 1,
          fallback: () => {
            throw new Error('no cache either');
          },
        },
      ),
    );
    await expect(b()).rejects.toThrow('no cache either');
    await expect(b()).rejects.toThrow('no cache either');
  });
});

describe('half-open', () => {
  it('after resetTimeoutMs lets exactly one trial through and closes on its success, clearing the window', async () => {
    vi.useFakeTimers();
    let mode: 'fail' | 'hang' = 'fail';
    const gate = deferred<string>();
    const fn = vi.fn(async (_n: number) => {
      if (mode === 'fail') throw new Error('down');
      return gate.promise;
    });
    const b = track(meshBreaker(fn, { name: 'trial', volumeThreshold: 1, resetTimeoutMs: 1000 }));
    const ev = record(b);
    await expect(b(1)).rejects.toThrow('down');
    expect(b.state).toBe('open');
    await vi.advanceTimersByTimeAsync(999);
    expect(b.state).toBe('open');
    await vi.advanceTimersByTimeAsync(1);
    expect(b.state).toBe('half-open');
    mode = 'hang';
    const trial = b(2);
    const second = await settle(b(3));
    expectMeshError(!second.ok && second.error, Code.Unavailable, 'circuit_open');
    expect(fn).toHaveBeenCalledTimes(2);
    gate.resolve('recovered');
    await expect(trial).resolves.toBe('recovered');
    expect(b.state).toBe('closed');
    expect(ev.seen).toEqual(['failure', 'open', 'halfOpen', 'reject', 'close', 'success']);
    // Hystrix resets its counts on close: the failures from before do not linger in the window.
    expect(b.stats()).toMatchObject({ calls: 0, failures: 0, rejects: 0 });
  });

  it('re-opens when the trial fails, and tries again after another resetTimeoutMs', async () => {
    vi.useFakeTimers();
    const fn = vi.fn(async () => {
      throw new Error('still down');
    });
    const b = track(meshBreaker(fn, { name: 'trial2', volumeThreshold: 1, resetTimeoutMs: 500 }));
    const ev = record(b);
    await expect(b()).rejects.toThrow('still down');
    await vi.advanceTimersByTimeAsync(500);
    expect(b.state).toBe('half-open');
    await expect(b()).rejects.toThrow('still down');
    expect(b.state).toBe('open');
    expect(fn).toHaveBeenCalledTimes(2);
    await vi.advanceTimersByTimeAsync(499);
    expect(b.state).toBe('open');
    await vi.advanceTimersByTimeAsync(1);
    expect(b.state).toBe('half-open');
    expect(ev.seen).toEqual(['failure', 'open', 'halfOpen', 'failure', 'open', 'halfOpen']);
  });

  it('a trial the caller cancels re-opens the circuit instead of closing it', async () => {
    vi.useFakeTimers();
    let mode: 'fail' | 'wait' = 'fail';
    const fn = vi.fn(
      (_url: string, init: { signal?: AbortSignal }) =>
        new Promise<string>((resolve, reject) => {
          if (mode === 'fail') return reject(new Error('down'));
          init.signal?.addEventListener('abort', () => reject(init.signal?.reason));
        }),
    );
    const b = track(meshBreaker(fn, { name: 'cancel-trial', volumeThreshold: 1, resetTimeoutMs: 100, signal: (_url, init) => init.signal }));
    await expect(b('/a', {})).rejects.toThrow('down');
    await vi.advanceTimersByTimeAsync(100);
    expect(b.state).toBe('half-open');
    mode = 'wait';
    const ac = new AbortController();
    const trial = settle(b('/a', { signal: ac.signal }));
    ac.abort(new Error('user left'));
    const r = await trial;
    expect(!r.ok && (r.error as Error).message).toBe('user left');
    await flush();
    expect(b.state).toBe('open');
  });
});

describe('timeout', () => {
  it('fails a call still running after timeoutMs with MeshError DeadlineExceeded breaker_timeout', async () => {
    vi.useFakeTimers();
    const fn = vi.fn(() => new Promise<string>(() => {}));
    const b = track(meshBreaker(fn, { name: 'slow', timeoutMs: 100 }));
    const payloads: unknown[] = [];
    b.on('timeout', (e, latency) => payloads.push(e, latency));
    b.on('failure', (e) => payloads.push(e));
    const p = settle(b());
    await vi.advanceTimersByTimeAsync(99);
    expect(payloads).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    const r = await p;
    const m = expectMeshError(!r.ok && r.error, Code.DeadlineExceeded, 'breaker_timeout');
    expect(m.message).toContain('"slow"');
    expect(m.message).toContain('100ms');
    expect(m.flag).toBe('UT');
    // One error object for the caller and every listener.
    expect(payloads).toEqual([m, 100, m]);
    expect(b.stats()).toMatchObject({ timeouts: 1, failures: 1 });
  });

  it('hands the timeout MeshError to the fallback', async () => {
    vi.useFakeTimers();
    const b = track(
      meshBreaker(() => new Promise<string>(() => {}), {
        name: 'slow-fb',
        timeoutMs: 50,
        fallback: (e) => (e instanceof MeshError ? e.reason : 'other'),
      }),
    );
    const p = b();
    await vi.advanceTimersByTimeAsync(50);
    await expect(p).resolves.toBe('breaker_timeout');
  });

  it('is off by default, and an ETIMEDOUT thrown by fn itself passes through unchanged', async () => {
    vi.useFakeTimers();
    const own = Object.assign(new Error('socket timeout'), { code: 'ETIMEDOUT' });
    const gate = deferred<string>();
    let n = 0;
    const b = track(meshBreaker(() => (++n === 1 ? gate.promise : Promise.reject(own)), { name: 'no-timeout' }));
    const p = b();
    await vi.advanceTimersByTimeAsync(60_000); // opossum's own default would have been 10 s
    gate.resolve('late');
    await expect(p).resolves.toBe('late');
    await expect(b()).rejects.toBe(own);
  });
});

describe('bulkhead (cockatiel)', () => {
  it('runs at most maxConcurrent, queues maxQueue, rejects past that with MeshError bulkhead_full', async () => {
    const gates: Deferred<number>[] = [];
    const fn = vi.fn((_i: number) => {
      const d = deferred<number>();
      gates.push(d);
      return d.promise;
    });
    const b = track(meshBreaker(fn, { name: 'pool', bulkhead: { maxConcurrent: 2, maxQueue: 1 } }));
    const p1 = b(1);
    const p2 = b(2);
    const p3 = b(3);
    const r4 = await settle(b(4));
    const m = expectMeshError(!r4.ok && r4.error, Code.Unavailable, 'bulkhead_full');
    expect(m.message).toContain('"pool"');
    expect(fn).toHaveBeenCalledTimes(2);
    expect(b.stats().bulkhead).toEqual({ active: 2, queued: 1, maxConcurrent: 2, maxQueue: 1 });
    gates[0]?.resolve(10);
    await expect(p1).resolves.toBe(10);
    await flush();
    expect(fn).toHaveBeenCalledTimes(3);
    expect(fn.mock.calls[2]).toEqual([3]);
    gates[1]?.resolve(20);
    gates[2]?.resolve(30);
    await expect(Promise.all([p2, p3])).resolves.toEqual([20, 30]);
    // A full bulkhead counts as a failure, as Hystrix counts rejections in its error percentage.
    expect(b.stats()).toMatchObject({ calls: 4, successes: 3, failures: 1, bulkhead: { active: 0, queued: 0 } });
  });

  it('falls back when the bulkhead is full, whatever isFailure says about fn errors', async () => {
    const gate = deferred<string>();
    const b = track(
      meshBreaker(() => gate.promise, {
        name: 'pool-fb',
        bulkhead: { maxConcurrent: 1 },
        isFailure: () => false,
        fallback: (e) => (e as MeshError).reason,
      }),
    );
    const p1 = b();
    await expect(b()).resolves.toBe('bulkhead_full');
    expect(b.stats().failures).toBe(1);
    gate.resolve('done');
    await expect(p1).resolves.toBe('done');
  });

  it('an aborted queued call leaves at once, never runs fn and is not counted as a failure', async () => {
    const gate = deferred<string>();
    const fn = vi.fn((_n: number) => gate.promise);
    const b = track(meshBreaker(fn, { name: 'pool-abort', volumeThreshold: 1, bulkhead: { maxConcurrent: 1, maxQueue: 1 } }));
    const p1 = b(1);
    const ac = new AbortController();
    const p2 = settle(b.run({ signal: ac.signal }, 2));
    const reason = new Error('caller gave up');
    ac.abort(reason);
    const r2 = await p2;
    expect(!r2.ok && r2.error).toBe(reason);
    gate.resolve('one');
    await expect(p1).resolves.toBe('one');
    await flush();
    expect(fn).toHaveBeenCalledTimes(1);
    expect(b.state).toBe('closed');
    expect(b.stats().failures).toBe(0);
  });

  it('a call that times out while queued is removed from the queue and never runs', async () => {
    vi.useFakeTimers();
    const gate = deferred<string>();
    const fn = vi.fn((_n: number) => gate.promise);
    const b = track(meshBreaker(fn, { name: 'pool-timeout', timeoutMs: 100, bulkhead: { maxConcurrent: 1, maxQueue: 1 } }));
    const p1 = settle(b(1));
    const p2 = settle(b(2));
    await vi.advanceTimersByTimeAsync(100);
    const r2 = await p2;
    expectMeshError(!r2.ok && r2.error, Code.DeadlineExceeded, 'breaker_timeout');
    gate.resolve('late');
    await p1;
    await flush();
    expect(fn).toHaveBeenCalledTimes(1);
  });
});

describe('failure classification', () => {
  it('a MeshError that blames the request (4xx-style) passes through, skips the fallback and does not count', async () => {
    const notFound = new MeshError('no such review', { code: Code.NotFound, reason: 'not_found' });
    const fn = vi.fn(async () => {
      throw notFound;
    });
    const fallback = vi.fn(() => 'cached');
    const b = track(meshBreaker(fn, { name: 'bad-requests', volumeThreshold: 1, fallback }));
    const ev = record(b);
    for (let i = 0; i < 5; i++) await expect(b()).rejects.toBe(notFound);
    expect(b.state).toBe('closed');
    expect(fallback).not.toHaveBeenCalled();
    expect(ev.seen).toEqual([]);
    expect(b.stats().failures).toBe(0);
  });

  it('the default classifier: 4xx-style codes are not failures, everything else is', () => {
    const mk = (code: Code): MeshError => new MeshError('x', { code, reason: 'x' });
    for (const code of [Code.InvalidArgument, Code.NotFound, Code.PermissionDenied, Code.Unauthenticated, Code.FailedPrecondition, Code.Canceled]) {
      expect(isBreakerFailure(mk(code))).toBe(false);
    }
    for (const code of [Code.Unavailable, Code.DeadlineExceeded, Code.Internal, Code.Unknown, Code.ResourceExhausted, Code.Aborted, Code.Unimplemented]) {
      expect(isBreakerFailure(mk(code))).toBe(true);
    }
    expect(isBreakerFailure(new Error('plain'))).toBe(true);
    expect(isBreakerFailure('a string')).toBe(true);
  });

  it('uses a custom isFailure, and a throwing classifier counts the call as failed', async () => {
    const b = track(
      meshBreaker(
        async (e: Error) => {
          throw e;
        },
        { name: 'custom', volumeThreshold: 1, isFailure: (e) => isBreakerFailure(e) && !(e instanceof RangeError) },
      ),
    );
    await expect(b(new RangeError('bad input'))).rejects.toThrow('bad input');
    expect(b.state).toBe('closed');
    await expect(b(new TypeError('broken'))).rejects.toThrow('broken');
    expect(b.state).toBe('open');
    const c = track(
      meshBreaker(
        async () => {
          throw new Error('x');
        },
        {
          name: 'bad-classifier',
          volumeThreshold: 1,
          isFailure: () => {
            throw new Error('classifier bug');
          },
        },
      ),
    );
    await expect(c()).rejects.toThrow('x');
    expect(c.state).toBe('open');
  });
});

describe('events', () => {
  it('fire with our payloads, and dispose stops them', async () => {
    let fail = false;
    const b = track(
      meshBreaker(
        async () => {
          if (fail) throw new Error('down');
          return 1;
        },
        { name: 'ev', volumeThreshold: 1, fallback: () => 0 },
      ),
    );
    const ev = record(b);
    const rejects: unknown[] = [];
    const latencies: number[] = [];
    const subReject = b.on('reject', (e) => rejects.push(e));
    b.on('success', (ms) => latencies.push(ms));
    await b();
    fail = true;
    await b(); // failure -> open -> fallback
    await b(); // reject -> fallback
    expect(ev.seen).toEqual(['success', 'failure', 'open', 'fallback', 'reject', 'fallback']);
    expect(latencies).toHaveLength(1);
    expect(latencies[0]).toBeGreaterThanOrEqual(0);
    expectMeshError(rejects[0], Code.Unavailable, 'circuit_open');
    ev.dispose();
    subReject.dispose();
    subReject.dispose(); // idempotent
    await b();
    expect(ev.seen).toHaveLength(6);
    expect(rejects).toHaveLength(1);
  });

  it('keep the breaker working when a listener is added twice or removed during emit', async () => {
    const b = track(meshBreaker(async () => 1, { name: 'ev2' }));
    let n = 0;
    const l = (): void => void n++;
    const s1 = b.on('success', l);
    b.on('success', l);
    const s3 = b.on('success', () => s1.dispose());
    await b();
    expect(n).toBe(2);
    s3.dispose();
    await b();
    expect(n).toBe(3);
  });
});

describe('cancellation', () => {
  it('a signal already aborted rejects with its reason without calling fn', async () => {
    const fn = vi.fn(async () => 1);
    const b = track(meshBreaker(fn, { name: 'pre' }));
    const reason = new Error('stop');
    await expect(b.run({ signal: AbortSignal.abort(reason) })).rejects.toBe(reason);
    expect(fn).not.toHaveBeenCalled();
    expect(b.stats().calls).toBe(0);
  });

  it('aborting stops the caller waiting; the running call still finishes and counts', async () => {
    const gate = deferred<string>();
    const fn = vi.fn(() => gate.promise);
    const b = track(meshBreaker(fn, { name: 'running' }));
    const ac = new AbortController();
    const p = settle(b.run({ signal: ac.signal }));
    ac.abort();
    const r = await p;
    expect(!r.ok && (r.error as Error).name).toBe('AbortError');
    gate.resolve('done');
    await flush();
    expect(b.stats()).toMatchObject({ calls: 1, successes: 1 });
  });

  it('takes the signal from the arguments or breaker-wide, and a cancelled fn is not a failure', async () => {
    const fn = vi.fn(
      (_url: string, init?: { signal?: AbortSignal }) =>
        new Promise<string>((_resolve, reject) => {
          init?.signal?.addEventListener('abort', () => reject(init.signal?.reason));
        }),
    );
    const b = track(meshBreaker(fn, { name: 'fetchlike', volumeThreshold: 1, signal: (_url, init) => init?.signal }));
    const ac = new AbortController();
    const p = settle(b('/x', { signal: ac.signal }));
    ac.abort();
    const r = await p;
    expect(!r.ok && (r.error as Error).name).toBe('AbortError');
    await flush();
    expect(b.state).toBe('closed');
    expect(b.stats().failures).toBe(0);

    const shutdownSignal = new AbortController();
    const c = track(meshBreaker(() => new Promise<never>(() => {}), { name: 'wide', signal: shutdownSignal.signal }));
    const q = settle(c());
    shutdownSignal.abort(new Error('app stopping'));
    const rq = await q;
    expect(!rq.ok && (rq.error as Error).message).toBe('app stopping');
  });
});

describe('shutdown', () => {
  it('leaves no timer behind and refuses later calls with MeshError breaker_shutdown', async () => {
    // opossum unrefs its timers, and unref'd timers are missing from getActiveResourcesInfo(),
    // so the breaker's timers are also tracked one by one through the globals.
    const activeTimeouts = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const live = new Set<unknown>();
    const fromBreaker = (): boolean => /opossum|breaker\.ts/.test(new Error().stack ?? '');
    const orig = { setTimeout, setInterval, clearTimeout, clearInterval };
    globalThis.setTimeout = ((cb: (...a: unknown[]) => void, ms?: number, ...rest: unknown[]) => {
      const mine = fromBreaker();
      const h = orig.setTimeout(
        (...a: unknown[]) => {
          live.delete(h);
          cb(...a);
        },
        ms,
        ...rest,
      );
      if (mine) live.add(h);
      return h;
    }) as typeof setTimeout;
    globalThis.setInterval = ((cb: (...a: unknown[]) => void, ms?: number, ...rest: unknown[]) => {
      const h = orig.setInterval(cb, ms, ...rest);
      if (fromBreaker()) live.add(h);
      return h;
    }) as typeof setInterval;
    globalThis.clearTimeout = ((h: Parameters<typeof clearTimeout>[0]) => {
      live.delete(h);
      orig.clearTimeout(h);
    }) as typeof clearTimeout;
    globalThis.clearInterval = ((h: Parameters<typeof clearInterval>[0]) => {
      live.delete(h);
      orig.clearInterval(h);
    }) as typeof clearInterval;
    const before = activeTimeouts();
    let b;
    try {
      let fail = false;
      b = meshBreaker(
        async () => {
          if (fail) throw new Error('down');
          return 'ok';
        },
        { name: 'timers', timeoutMs: 5000, volumeThreshold: 1, resetTimeoutMs: 60_000, bulkhead: { maxConcurrent: 1 } },
      );
      await b();
      fail = true;
      await expect(b()).rejects.toThrow('down');
      expect(b.state).toBe('open');
      expect(live.size).toBe(2); // the bucket rotation and the pending reset timer
      b.shutdown();
      b.shutdown(); // idempotent
      expect(live.size).toBe(0);
    } finally {
      Object.assign(globalThis, orig);
    }
    expect(activeTimeouts()).toBe(before);
    expect(b.state).toBe('shutdown');
    const r = await settle(b());
    expectMeshError(!r.ok && r.error, Code.Unavailable, 'breaker_shutdown');
  });
});

describe('options', () => {
  it('refuses values opossum would silently misread', () => {
    const f = async (): Promise<number> => 1;
    expect(() => meshBreaker(f, { name: '' })).toThrow(RangeError);
    expect(() => meshBreaker(f, { name: 'x', volumeThreshold: 2.5 })).toThrow(/volumeThreshold/);
    expect(() => meshBreaker(f, { name: 'x', errorThresholdPercentage: 101 })).toThrow(/errorThresholdPercentage/);
    expect(() => meshBreaker(f, { name: 'x', rollingWindowMs: 5, rollingBuckets: 10 })).toThrow(/rollingBuckets/);
    expect(() => meshBreaker(f, { name: 'x', timeoutMs: 0 })).toThrow(/timeoutMs/);
    expect(() => meshBreaker(f, { name: 'x', resetTimeoutMs: -1 })).toThrow(/resetTimeoutMs/);
    expect(() => meshBreaker(f, { name: 'x', bulkhead: { maxConcurrent: 0 } })).toThrow(/maxConcurrent/);
    expect(() => meshBreaker(f, { name: 'x', bulkhead: { maxConcurrent: 1, maxQueue: -1 } })).toThrow(/maxQueue/);
  });

  it('the wrapper carries the breaker name and forwards arguments and results', async () => {
    const b = track(meshBreaker(async (a: number, b: string) => `${b}${a}`, { name: 'echo', latencyPercentiles: false }));
    expect(b.name).toBe('echo');
    await expect(b(1, 'v')).resolves.toBe('v1');
    // A synchronous fn returning nothing is a success, not opossum's "result.then" TypeError.
    const s = track(meshBreaker((): void => undefined, { name: 'sync' }));
    await expect(s()).resolves.toBeUndefined();
    expect(s.stats()).toMatchObject({ successes: 1, failures: 0 });
    expect(b.stats().latencyMs).toBeUndefined();
    expect(s.stats().latencyMs).toMatchObject({ p50: expect.any(Number), max: expect.any(Number) });
  });
});
