/**
 * The set of trusted roots. Several roots at once is how a root is rotated: trust old and new,
 * move every workload to certificates from the new root, then drop the old one.
 */
import { X509Certificate } from 'node:crypto';
import { IdentityError } from './errors.js';
import { parseCertificates } from './pem.js';

/**
 * An immutable set of root certificates (deduplicated by SHA-256 fingerprint, order kept).
 *
 * @example
 * ```ts
 * let bundle = new TrustBundle([oldRootPem]);
 * bundle = bundle.add(newRootPem);   // both trusted while workloads move over
 * bundle = bundle.remove(oldRootPem); // rotation done
 * tls.createServer({ ca: bundle.rootsPem, ... });
 * ```
 */
export class TrustBundle {
  readonly #roots: readonly X509Certificate[];
  readonly #pems: readonly string[];

  /** @param roots PEM texts, each with one or more CA certificates. */
  constructor(roots: Iterable<string> = []) {
    const certs: X509Certificate[] = [];
    const seen = new Set<string>();
    for (const text of roots) {
      for (const cert of parseCertificates(text, 'trust bundle')) {
        if (!cert.ca) throw new IdentityError(`trust bundle: "${cert.subject?.replaceAll('\n', ', ') ?? ''}" is not a CA certificate (basicConstraints CA:TRUE); only roots belong in a trust bundle`, { reason: 'invalid_certificate' });
        if (seen.has(cert.fingerprint256)) continue;
        seen.add(cert.fingerprint256);
        certs.push(cert);
      }
    }
    this.#roots = Object.freeze(certs);
    this.#pems = Object.freeze(certs.map((c) => c.toString()));
  }

  /** One PEM per root, for `tls` `ca` options and for the wire. */
  get rootsPem(): readonly string[] {
    return this.#pems;
  }

  /** The parsed roots (node:crypto X509Certificate). */
  get roots(): readonly X509Certificate[] {
    return this.#roots;
  }

  get size(): number {
    return this.#roots.length;
  }

  /** Whether the bundle holds this root. */
  has(pem: string): boolean {
    const prints = new Set(this.#roots.map((r) => r.fingerprint256));
    return parseCertificates(pem, 'root').every((c) => prints.has(c.fingerprint256));
  }

  /** A bundle that also trusts these roots. */
  add(...pems: string[]): TrustBundle {
    return new TrustBundle([...this.#pems, ...pems]);
  }

  /** A bundle without these roots. */
  remove(...pems: string[]): TrustBundle {
    const drop = new Set(pems.flatMap((p) => parseCertificates(p, 'root')).map((c) => c.fingerprint256));
    return new TrustBundle(this.#roots.filter((r) => !drop.has(r.fingerprint256)).map((r) => r.toString()));
  }

  /** All roots as one PEM text (the `root-cert.pem` format). */
  toString(): string {
    return this.#pems.join('');
  }
}
