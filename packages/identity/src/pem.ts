/**
 * PEM text handling and certificate parsing on node:crypto's X509Certificate (OpenSSL), which
 * reads every key type; no third-party parser on the read paths.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { IdentityError, messageOf, type IdentityErrorReason } from './errors.js';

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([\s\S]*?)\r?\n?-----END \1-----/g;

/** The PEM blocks of one type (`CERTIFICATE` by default) in a text, each re-serialised with a trailing newline. */
export function splitPem(text: string, type = 'CERTIFICATE'): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(BLOCK)) {
    if (m[1] === type) out.push(`-----BEGIN ${type}-----\n${m[2]!.trim()}\n-----END ${type}-----\n`);
  }
  return out;
}

/** Joins PEM blocks into one text. */
export function joinPem(blocks: readonly string[]): string {
  return blocks.map((b) => (b.endsWith('\n') ? b : `${b}\n`)).join('');
}

/**
 * Parses every certificate in a PEM text. `what` names the source (a file name) in errors.
 * A text whose last block has no END line, or that holds no certificate, is rejected: that is
 * what a half-written file looks like.
 */
export function parseCertificates(text: string, what: string, reason: IdentityErrorReason = 'invalid_certificate', file?: string): X509Certificate[] {
  const blocks = splitPem(text);
  const begins = (text.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length;
  if (begins > blocks.length) {
    throw new IdentityError(`${what}: a certificate has no matching "-----END CERTIFICATE-----" line (a truncated or half-written file?)`, { reason, file });
  }
  if (blocks.length === 0) throw new IdentityError(`${what}: no PEM certificate ("-----BEGIN CERTIFICATE-----") found`, { reason, file });
  return blocks.map((b, i) => {
    try {
      return new X509Certificate(b);
    } catch (e) {
      throw new IdentityError(`${what}: certificate ${i + 1} of ${blocks.length} cannot be parsed (${messageOf(e)})`, { reason, file, cause: e });
    }
  });
}

/**
 * Parses a private key (PKCS#8, SEC1 `EC PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`). The error
 * never quotes the key.
 */
export function parsePrivateKey(text: string, what: string, reason: IdentityErrorReason = 'invalid_certificate', file?: string): KeyObject {
  if (/-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text)) {
    throw new IdentityError(`${what}: the private key is encrypted; store it unencrypted with mode 0600 (openssl pkey -in <file> -out <file>)`, { reason, file });
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    throw new IdentityError(`${what}: no PEM private key ("-----BEGIN PRIVATE KEY-----") found`, { reason, file });
  }
  if (!/-----END [A-Z ]*PRIVATE KEY-----/.test(text)) {
    throw new IdentityError(`${what}: the private key has no "-----END ... PRIVATE KEY-----" line (a truncated or half-written file?)`, { reason, file });
  }
  try {
    return createPrivateKey({ key: text, format: 'pem' });
  } catch (e) {
    // OpenSSL's decoder messages name the routine, never the key bytes.
    throw new IdentityError(`${what}: the private key cannot be parsed (${messageOf(e)})`, { reason, file, cause: e });
  }
}

/**
 * The SANs of a certificate as `{ type, value }` (`DNS`, `URI`, `IP Address`, ...), from Node's
 * `subjectAltName` text (`DNS:a, URI:spiffe://..., URI:"quoted, value"`): Node JSON-quotes a
 * value with characters that would make the list ambiguous, so quoted values are decoded and
 * never split.
 */
export function subjectAltNames(subjectAltName: string | undefined): { type: string; value: string }[] {
  if (!subjectAltName) return [];
  const out: { type: string; value: string }[] = [];
  let i = 0;
  const s = subjectAltName;
  while (i < s.length) {
    const colon = s.indexOf(':', i);
    if (colon < 0) break;
    const type = s.slice(i, colon).trim();
    let value: string;
    let next: number;
    if (s[colon + 1] === '"') {
      // A JSON string literal: find its closing quote, skipping escapes.
      let j = colon + 2;
      while (j < s.length && s[j] !== '"') j += s[j] === '\\' ? 2 : 1;
      try { value = JSON.parse(s.slice(colon + 1, j + 1)) as string; } catch { value = ''; }
      next = s.indexOf(', ', j + 1);
    } else {
      next = s.indexOf(', ', colon + 1);
      value = s.slice(colon + 1, next < 0 ? s.length : next);
    }
    out.push({ type, value });
    if (next < 0) break;
    i = next + 2;
  }
  return out;
}

/** The URI SANs of a certificate (see {@link subjectAltNames}). */
export function uriSans(subjectAltName: string | undefined): string[] {
  return subjectAltNames(subjectAltName).filter((n) => n.type === 'URI').map((n) => n.value);
}

/** The first `spiffe://` URI SAN of Node's `subjectAltName` text (Istio takes it as the peer principal). */
export function firstSpiffeUri(subjectAltName: string | undefined): string | undefined {
  return uriSans(subjectAltName).find((u) => u.startsWith('spiffe://'));
}

/** The first `spiffe://` URI SAN (Istio takes the first URI SAN as the peer principal). */
export function spiffeIdOf(cert: X509Certificate): string | undefined {
  return firstSpiffeUri(cert.subjectAltName);
}
