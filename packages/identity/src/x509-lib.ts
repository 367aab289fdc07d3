/**
 * Loads @peculiar/x509 on first use (only code that makes CSRs or signs certificates needs it;
 * a workload reading mounted certificate files never loads it).
 *
 * @peculiar/x509 registers its algorithms with tsyringe, which refuses to load without a
 * `Reflect.getMetadata` polyfill. tsyringe touches Reflect metadata only while decorators run,
 * that is while the module evaluates (`injectable()` copies what it needs into its own map). So
 * when the application has no polyfill we install a minimal one for the duration of the import
 * and take it out again: no global is left changed, and no `reflect-metadata` dependency is
 * needed. If the application already loaded a polyfill, it is used and left alone. A test
 * pins both halves (x509 works after the shim is gone; Reflect is as we found it).
 */
import { webcrypto } from 'node:crypto';

export type X509Lib = typeof import('@peculiar/x509');

let loading: Promise<X509Lib> | undefined;

/** The WebCrypto implementation of node:crypto, passed explicitly so no global provider is set. */
export const nodeWebCrypto: webcrypto.Crypto = webcrypto;

interface ReflectMetadata {
  defineMetadata(key: unknown, value: unknown, target: object): void;
  getOwnMetadata(key: unknown, target: object): unknown;
  getMetadata(key: unknown, target: object): unknown;
}

/** Returns the @peculiar/x509 module, loading it once. */
export function x509Lib(): Promise<X509Lib> {
  loading ??= load();
  return loading;
}

async function load(): Promise<X509Lib> {
  const R = Reflect as unknown as Partial<ReflectMetadata>;
  if (typeof R.getMetadata === 'function') return import('@peculiar/x509');
  const store = new WeakMap<object, Map<unknown, unknown>>();
  const own = (key: unknown, target: object): unknown => store.get(target)?.get(key);
  const shim: ReflectMetadata = {
    defineMetadata(key, value, target) {
      let m = store.get(target);
      if (!m) store.set(target, (m = new Map()));
      m.set(key, value);
    },
    getOwnMetadata: own,
    getMetadata(key, target) {
      for (let o: object | null = target; o; o = Object.getPrototypeOf(o) as object | null) {
        const v = own(key, o);
        if (v !== undefined) return v;
      }
      return undefined;
    },
  };
  Object.assign(R, shim);
  try {
    return await import('@peculiar/x509');
  } finally {
    // Remove only what is still ours: a polyfill the application loaded meanwhile stays.
    for (const k of Object.keys(shim) as (keyof ReflectMetadata)[]) if (R[k] === shim[k]) delete R[k];
  }
}
