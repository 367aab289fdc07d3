/**
 * A PKCS#10 certificate request (RFC 2986) for one SPIFFE ID, DER-encoded by hand and signed
 * with node:crypto. Why not @peculiar/x509, which the CA and `verifyCsr` use: loading it
 * (tsyringe, asn1-schema and their polyfill) takes about 90 ms of a fresh process, and a
 * workload makes its CSR on its way to its first request, where that was a third of a cold
 * start (profiled in bench/control.mjs). The request is one fixed shape, so its encoding is
 * short; `verifyCsr` (the library's parser and WebCrypto) checks every one in the tests.
 *
 * CertificationRequest ::= SEQUENCE {
 *   certificationRequestInfo SEQUENCE { version INTEGER (0), subject Name (empty),
 *     subjectPKInfo SubjectPublicKeyInfo, attributes [0] { extensionRequest { subjectAltName
 *     (critical: the subject is empty) { uniformResourceIdentifier [6] <spiffe id> } } } },
 *   signatureAlgorithm AlgorithmIdentifier, signature BIT STRING }
 */
import { createPublicKey, sign, type KeyObject } from 'node:crypto';
import { IdentityError } from './errors.js';

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v >>>= 8) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One DER TLV. */
function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const seq = (...c: Buffer[]) => tlv(0x30, ...c);

/** An OBJECT IDENTIFIER from its dotted form (base-128 arcs; the first two packed into one byte). */
function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const out: number[] = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const groups: number[] = [];
    let v = arc;
    do {
      groups.unshift(v & 0x7f);
      v = Math.floor(v / 128);
    } while (v > 0);
    for (let i = 0; i < groups.length - 1; i++) groups[i]! |= 0x80;
    out.push(...groups);
  }
  return tlv(0x06, Buffer.from(out));
}

const OID_EXTENSION_REQUEST = '1.2.840.113549.1.9.14';
const OID_SUBJECT_ALT_NAME = '2.5.29.17';

/** The signature algorithm of a key: ECDSA P-256 with SHA-256, P-384 with SHA-384, RSA PKCS#1 v1.5 with SHA-256 (as signingAlgorithm in keys.ts). */
function algorithmOf(key: KeyObject): { hash: 'sha256' | 'sha384'; identifier: Buffer } {
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1' || curve === 'P-256') return { hash: 'sha256', identifier: seq(oid('1.2.840.10045.4.3.2')) };
    if (curve === 'secp384r1' || curve === 'P-384') return { hash: 'sha384', identifier: seq(oid('1.2.840.10045.4.3.3')) };
    throw new IdentityError(`EC curve ${curve ?? 'unknown'} is not supported: use P-256 or P-384`, { reason: 'invalid_certificate' });
  }
  // sha256WithRSAEncryption, with the NULL parameters RFC 4055 asks for.
  if (key.asymmetricKeyType === 'rsa') return { hash: 'sha256', identifier: seq(oid('1.2.840.113549.1.1.11'), Buffer.from([0x05, 0x00])) };
  throw new IdentityError(`${key.asymmetricKeyType ?? 'unknown'} keys are not supported: use an ECDSA (P-256, P-384) or RSA key`, { reason: 'invalid_certificate' });
}

/** The DER CSR for `uri` (the SPIFFE ID), signed with `privateKey`. */
export function csrDer(privateKey: KeyObject, uri: string): Buffer {
  if (!/^[\x20-\x7e]+$/.test(uri)) throw new IdentityError('a SPIFFE ID is printable ASCII', { reason: 'invalid_spiffe_id' });
  const { hash, identifier } = algorithmOf(privateKey);
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const san = seq(tlv(0x86, Buffer.from(uri, 'ascii'))); // GeneralNames { [6] IA5String }
  const extension = seq(oid(OID_SUBJECT_ALT_NAME), Buffer.from([0x01, 0x01, 0xff]), tlv(0x04, san)); // critical TRUE
  const attributes = tlv(0xa0, seq(oid(OID_EXTENSION_REQUEST), tlv(0x31, seq(extension))));
  const info = seq(Buffer.from([0x02, 0x01, 0x00]), seq(), spki, attributes);
  // ECDSA signatures in DER (Ecdsa-Sig-Value), as X.509 carries them.
  const signature = sign(hash, info, { key: privateKey, dsaEncoding: 'der' });
  return seq(info, identifier, tlv(0x03, Buffer.from([0x00]), signature));
}

/** PEM (`CERTIFICATE REQUEST`, 64-character lines) of a DER CSR. */
export function csrPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n').replace(/\n$/, '');
  return `-----BEGIN CERTIFICATE REQUEST-----\n${b64}\n-----END CERTIFICATE REQUEST-----\n`;
}
