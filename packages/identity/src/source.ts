/**
 * One interface for where a workload's certificate comes from: the in-process CA (key, CSR,
 * signature, rotation at half-life) or certificate files mounted into a folder.
 */
import { IdentityError, messageOf } from './errors.js';
import { redactKeyPem } from './redact.js';

/**
 * A workload's TLS identity at one moment: everything node:tls needs, as plain data. Logging
 * it prints `keyPem` as `[redacted]`.
 */
export interface IdentityMaterial {
  /** The workload certificate, then its intermediates. */
  readonly certChainPem: string;
  /** The private key, PKCS#8 or as found in `key.pem`. */
  readonly keyPem: string;
  /** The trusted roots, one PEM each. */
  readonly rootsPem: readonly string[];
  /** The SPIFFE ID the certificate carries. */
  readonly spiffeId: string;
  readonly notBefore: Date;
  readonly notAfter: Date;
}

/** What `on()` returns: call `dispose()` to unsubscribe. */
export interface Disposable {
  dispose(): void;
}

/** Events of an {@link IdentitySource}. */
export interface IdentitySourceEvents {
  /** A new certificate (and key, and roots) is in force. */
  change: (material: IdentityMaterial) => void;
  /** A rotation or reload failed; the current material keeps serving. */
  error: (error: IdentityError) => void;
}

/**
 * A workload's certificate over time.
 *
 * @example
 * ```ts
 * const server = https.createServer(serverTlsOptions(source.current()), handler);
 * const sub = source.on('change', (m) => server.setSecureContext(serverTlsOptions(m)));
 * // later: sub.dispose(); await source.close();
 * ```
 */
export interface IdentitySource {
  /** The material in force now (never undefined: sources are created with a first certificate). */
  current(): IdentityMaterial;
  /** Subscribes to an event; listeners that throw do not disturb the source. */
  on<E extends keyof IdentitySourceEvents>(event: E, listener: IdentitySourceEvents[E]): Disposable;
  /** Stops timers and watchers. `current()` keeps answering with the last material. */
  close(): Promise<void>;
}

/** Makes an {@link IdentityMaterial} that never prints its key. */
export function material(m: IdentityMaterial): IdentityMaterial {
  return redactKeyPem({ ...m, rootsPem: Object.freeze([...m.rootsPem]) }, 'keyPem');
}

/** Listener bookkeeping shared by the sources. */
export class Listeners {
  readonly #change = new Set<IdentitySourceEvents['change']>();
  readonly #error = new Set<IdentitySourceEvents['error']>();

  on<E extends keyof IdentitySourceEvents>(event: E, listener: IdentitySourceEvents[E]): Disposable {
    const set = (event === 'change' ? this.#change : event === 'error' ? this.#error : undefined) as Set<IdentitySourceEvents[E]> | undefined;
    if (!set) throw new IdentityError(`unknown event ${JSON.stringify(event)}: use 'change' or 'error'`, { reason: 'invalid_option' });
    set.add(listener);
    return { dispose: () => { set.delete(listener); } };
  }

  change(m: IdentityMaterial): void {
    for (const l of [...this.#change]) guard(() => l(m));
  }

  error(e: IdentityError): void {
    // Nobody listening: say it once as a process warning rather than fail silently or crash.
    if (this.#error.size === 0) { process.emitWarning(e.message, { code: 'MESHWORK_IDENTITY' }); return; }
    for (const l of [...this.#error]) guard(() => l(e));
  }

  clear(): void {
    this.#change.clear();
    this.#error.clear();
  }
}

function guard(fn: () => void): void {
  try {
    fn();
  } catch (e) {
    // A user hook that throws must not stop rotation or the other listeners.
    process.emitWarning(`an identity listener threw: ${messageOf(e)}`, { code: 'MESHWORK_IDENTITY_LISTENER' });
  }
}
