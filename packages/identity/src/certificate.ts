/**
 * Reading certificates and checking chains with node:crypto's X509Certificate: the same OpenSSL
 * that will later verify the handshake, so a chain this accepts is one TLS accepts.
 */
import type { X509Certificate } from 'node:crypto';
import { IdentityError, type IdentityErrorReason } from './errors.js';
import { parseCertificates, spiffeIdOf, uriSans } from './pem.js';

/** What a certificate says, as plain data. */
export interface CertificateInfo {
  /** The first `spiffe://` URI SAN, if any. */
  spiffeId: string | undefined;
  /** Every URI SAN. */
  uris: string[];
  /** Subject as OpenSSL prints it (one `key=value` per line; empty for workload certificates). */
  subject: string;
  issuer: string;
  /** Hex, upper case, as OpenSSL prints it. */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  /** `basicConstraints CA:TRUE`. */
  isCa: boolean;
  /** SHA-256 fingerprint, `AB:CD:...`. */
  fingerprint256: string;
}

/** Plain-data view of a parsed certificate. */
export function infoOf(cert: X509Certificate): CertificateInfo {
  return {
    spiffeId: spiffeIdOf(cert),
    uris: uriSans(cert.subjectAltName),
    subject: cert.subject ?? '',
    issuer: cert.issuer ?? '',
    serialNumber: cert.serialNumber,
    notBefore: new Date(cert.validFrom),
    notAfter: new Date(cert.validTo),
    isCa: cert.ca,
    fingerprint256: cert.fingerprint256,
  };
}

/** Reads the first certificate of a PEM text (the leaf of a chain). */
export function certificateInfo(pem: string): CertificateInfo {
  return infoOf(parseCertificates(pem, 'certificate')[0]!);
}

/** Options of {@link verifyChain}. */
export interface VerifyChainOptions {
  /** The instant the chain must be valid at (default: now). */
  at?: Date | number;
  /** Prefix of error messages, e.g. a file name (default `certificate chain`). */
  what?: string;
  /** Reason of the errors raised (default: the specific ones; file loaders pass their own). */
  reason?: IdentityErrorReason;
  file?: string;
  /** Check notBefore/notAfter of every certificate (default true); false checks signatures only. */
  checkValidity?: boolean;
}

/**
 * Checks that the first certificate of `chainPem` leads, through the other certificates of the
 * chain, to one of `rootsPem`, with every signature verified and every certificate valid at
 * `at` (issuers must be CA certificates). Returns the leaf's {@link CertificateInfo}; throws an
 * {@link IdentityError} (`untrusted_certificate`, `certificate_expired`,
 * `certificate_not_yet_valid`) that says which certificate failed and why.
 *
 * This is the check a TLS handshake makes, done ahead of time (file loaders, tests).
 */
export function verifyChain(chainPem: string, rootsPem: readonly string[] | string, options: VerifyChainOptions = {}): CertificateInfo {
  const what = options.what ?? 'certificate chain';
  const chain = parseCertificates(chainPem, what, options.reason ?? 'invalid_certificate', options.file);
  const roots = (typeof rootsPem === 'string' ? [rootsPem] : rootsPem).flatMap((r) => parseCertificates(r, 'trusted roots', options.reason ?? 'invalid_certificate', options.file));
  return verifyParsedChain(chain, roots, options);
}

/** {@link verifyChain} on parsed certificates. */
export function verifyParsedChain(chain: readonly X509Certificate[], roots: readonly X509Certificate[], options: VerifyChainOptions = {}): CertificateInfo {
  return walkChain(chain, roots, options).leaf;
}

/** {@link verifyParsedChain}, also returning the trusted root the chain ends in. */
export function walkChain(chain: readonly X509Certificate[], roots: readonly X509Certificate[], options: VerifyChainOptions = {}): { leaf: CertificateInfo; root: X509Certificate } {
  const what = options.what ?? 'certificate chain';
  const at = options.at === undefined ? Date.now() : +options.at;
  const fail = (reason: IdentityErrorReason, message: string): IdentityError =>
    new IdentityError(`${what}: ${message}`, { reason: options.reason ?? reason, file: options.file });
  const name = (c: X509Certificate): string => c.subject?.replaceAll('\n', ', ') || 'no subject';
  const label = (c: X509Certificate, i: number): string => (i === 0 ? 'the leaf certificate' : i < 0 ? `the trusted root (${name(c)})` : `certificate ${i + 1} of the chain (${name(c)})`);
  const checkTime = (c: X509Certificate, i: number): void => {
    if (options.checkValidity === false) return;
    const from = Date.parse(c.validFrom);
    const to = Date.parse(c.validTo);
    if (at < from) throw fail('certificate_not_yet_valid', `${label(c, i)} is not valid before ${new Date(from).toISOString()}`);
    if (at > to) throw fail('certificate_expired', `${label(c, i)} expired at ${new Date(to).toISOString()}`);
  };
  const leaf = chain[0];
  if (!leaf) throw fail('invalid_certificate', 'no certificate');
  let current = leaf;
  let index = 0;
  const used = new Set<X509Certificate>([leaf]);
  // Walk issuer links; the chain may be in any order and may or may not end with the root.
  for (let depth = 0; depth <= chain.length; depth++) {
    checkTime(current, index);
    const self = roots.find((r) => r.fingerprint256 === current.fingerprint256);
    if (self) return { leaf: infoOf(leaf), root: self };
    // Several roots may fit (a root re-issued with the same key, for a longer life): take one valid now.
    const issuers = roots.filter((r) => current.checkIssued(r) && current.verify(r.publicKey));
    if (issuers.length > 0) {
      const root = issuers.find((r) => { try { checkTime(r, -1); return true; } catch { return false; } }) ?? issuers[0]!;
      checkTime(root, -1);
      return { leaf: infoOf(leaf), root };
    }
    const nextIndex = chain.findIndex((c) => !used.has(c) && c.ca && current.checkIssued(c) && current.verify(c.publicKey));
    if (nextIndex < 0) break;
    current = chain[nextIndex]!;
    index = nextIndex;
    used.add(current);
  }
  const issuer = current.issuer?.replaceAll('\n', ', ') ?? '';
  throw fail('untrusted_certificate', `${label(current, index)} is not signed by any trusted root (its issuer is "${issuer}"; the ${roots.length} trusted root(s) are ${roots.map((r) => `"${name(r)}"`).join(', ') || 'none'})`);
}
