/**
 * HTTPS for the control service: a serving certificate from the control CA for the names
 * clients use (`localhost`, 127.0.0.1, ::1, plus configured hosts), renewed in place before it
 * expires. Clients verify it with the CA's trust bundle (`<dataDir>/ca/root-cert.pem`) and
 * ordinary host-name checks, as they would any HTTPS server; istiod serves its own API the
 * same way, with a DNS certificate from its CA.
 */
import { X509Certificate } from 'node:crypto';
import type { Server as HttpsServer } from 'node:https';
import { DEFAULT_WORKLOAD_CERT_TTL_MS, type CertificateAuthority, type KeyType } from '@meshwork/identity';

/** What `createControlServer({ tls })` serves with. */
export interface ControlTlsOptions {
  /** The private key (PEM). Prints as `[redacted]` when made by {@link controlTlsOptions}. */
  key: string;
  /** The certificate, then its intermediates (PEM). */
  cert: string;
  /** When `cert` expires (default: read from `cert`); with `renew`, the server renews once half of the remaining life has passed. */
  notAfter?: Date | undefined;
  /** Makes the next key and certificate; the server installs them with `setSecureContext`. */
  renew?: (() => Promise<ControlTlsOptions>) | undefined;
}

export interface ControlTlsCertOptions {
  /** Host names or IP addresses clients use besides `localhost`, `127.0.0.1` and `::1`. */
  hosts?: readonly string[] | undefined;
  /** Lifetime of each serving certificate (default 24 h; the CA caps it at 90 days). */
  ttlMs?: number | undefined;
  /** Default ECDSA P-256. */
  keyType?: KeyType | undefined;
}

/** The names every serving certificate carries: the local machine. */
export const LOCAL_HOSTS: readonly string[] = Object.freeze(['localhost', '127.0.0.1', '::1']);

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/**
 * A serving certificate from the control CA for `localhost`, `127.0.0.1`, `::1` and `hosts`,
 * with a `renew` that makes the next one (a new key each time).
 *
 * @example
 * ```ts
 * const { ca } = await openControlCa({ dataDir });
 * const server = createControlServer({ store, adminToken, ca, tls: await controlTlsOptions(ca, { hosts: ['control.internal'] }) });
 * ```
 */
export async function controlTlsOptions(ca: CertificateAuthority, options: ControlTlsCertOptions = {}): Promise<ControlTlsOptions> {
  const hosts = [...LOCAL_HOSTS, ...(options.hosts ?? [])];
  const c = await ca.issueServerCertificate({ hosts, ttlMs: options.ttlMs ?? DEFAULT_WORKLOAD_CERT_TTL_MS, keyType: options.keyType });
  const tls: ControlTlsOptions = { key: c.keyPem, cert: c.certChainPem, notAfter: c.notAfter, renew: () => controlTlsOptions(ca, options) };
  // A careless console.log or JSON logger prints the key as [redacted].
  const printable = (): Record<string, unknown> => ({ ...tls, key: '[redacted]' });
  Object.defineProperty(tls, 'toJSON', { value: printable, enumerable: false });
  Object.defineProperty(tls, INSPECT, { value: (_d: number, o: object, inspect: (v: unknown, o: object) => string) => inspect(printable(), o), enumerable: false });
  return tls;
}

/** The shortest wait before a renewal (also after a failed one). */
const MIN_RENEW_DELAY_MS = 1_000;
/** A failed renewal is retried at least this often. */
const RETRY_DELAY_MS = 30_000;
/** setTimeout's limit (about 24.8 days); longer waits are taken in steps. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Renews the server's certificate once half of its remaining life has passed, installing the
 * new one with `setSecureContext` (open connections carry on; new handshakes get the new
 * certificate). A failed renewal is reported as a `tlsRenewalError` event on the server and
 * retried. Stops when the server closes.
 */
export function keepServingCertificateFresh(server: HttpsServer, first: ControlTlsOptions, now: () => number): void {
  if (!first.renew) return;
  const renew = first.renew;
  const expiry = (tls: ControlTlsOptions): number => +(tls.notAfter ?? new Date(new X509Certificate(tls.cert).validTo));
  let notAfter = expiry(first);
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  const schedule = (delayMs: number): void => {
    if (closed) return;
    timer = setTimeout(tick, Math.min(MAX_TIMER_MS, Math.max(MIN_RENEW_DELAY_MS, delayMs)));
    timer.unref();
  };
  const dueAt = (from: number): number => from + (notAfter - from) / 2;
  let due = dueAt(now());
  const tick = (): void => {
    const t = now();
    if (t < due - MIN_RENEW_DELAY_MS) {
      schedule(due - t); // a wait longer than one timer allows
      return;
    }
    // The first renew keeps being used: a hand-made one may return plain { key, cert }.
    Promise.resolve().then(renew).then(
      (next) => {
        if (closed) return;
        server.setSecureContext({ key: next.key, cert: next.cert, minVersion: 'TLSv1.2' });
        notAfter = expiry(next);
        const t2 = now();
        due = dueAt(t2);
        schedule(due - t2);
      },
      (e: unknown) => {
        if (closed) return;
        server.emit('tlsRenewalError', e);
        schedule(Math.min(RETRY_DELAY_MS, (notAfter - now()) / 2));
      },
    );
  };
  server.once('close', () => {
    closed = true;
    if (timer) clearTimeout(timer);
  });
  schedule(due - now());
}
