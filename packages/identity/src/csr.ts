/**
 * PKCS#10 certificate signing requests: built in csr-der.ts with node:crypto (one fixed shape;
 * loading a library for it was a third of a workload's cold start), read and verified with
 * @peculiar/x509 on node:crypto's WebCrypto (node-forge cannot read or sign ECDSA keys; see
 * the README and test/forge-vs-x509.test.ts).
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { IdentityError, messageOf } from './errors.js';
import { signingAlgorithm } from './keys.js';
import { parsePrivateKey } from './pem.js';
import { parseSpiffeId } from './spiffe.js';
import { csrDer, csrPem } from './csr-der.js';
import { nodeWebCrypto, x509Lib } from './x509-lib.js';

/**
 * Makes a CSR for a SPIFFE ID, signed by the workload's key: an empty subject and the ID as
 * the only URI SAN, as Istio's node agent asks. (The CA decides the identity anyway; the CSR
 * proves possession of the key.)
 *
 * @param privateKey a node:crypto private key or its PEM
 * @returns the CSR as PEM (`-----BEGIN CERTIFICATE REQUEST-----`)
 */
export async function createCsr(privateKey: KeyObject | string, spiffeId: string): Promise<string> {
  parseSpiffeId(spiffeId);
  const key = typeof privateKey === 'string' ? parsePrivateKey(privateKey, 'private key') : privateKey;
  // Encoded here rather than with @peculiar/x509: see csr-der.ts (a workload's cold start).
  return csrPem(csrDer(key, spiffeId));
}

/** @peculiar/x509's general-name types, labelled as OpenSSL prints them. */
const SAN_LABELS: Record<string, string> = { dns: 'DNS', ip: 'IP Address', email: 'email', dn: 'DirName', guid: 'GUID', upn: 'UPN', id: 'Registered ID' };

/** A CSR whose signature has been checked: the public key it carries, and what it asked for. */
export interface VerifiedCsr {
  publicKey: KeyObject;
  /** The subject as written in the CSR (informational: the CA ignores it). */
  subject: string;
  /** The URI SANs the CSR asked for (informational: the CA ignores them). */
  requestedUris: string[];
  /**
   * Every other SAN the CSR asked for, as OpenSSL prints them (`DNS:api.example`,
   * `IP Address:10.0.0.1`, `email:a@b.example`, ...), so a service in front of the CA can refuse
   * a request for names a workload certificate never carries (the CA ignores them).
   */
  requestedOtherNames: string[];
}

/**
 * Parses a CSR, verifies its self-signature (proof that the requester holds the key) and
 * checks the key is strong enough: ECDSA P-256/P-384 or RSA of at least 2048 bits.
 */
export async function verifyCsr(csrPem: string): Promise<VerifiedCsr> {
  if (typeof csrPem !== 'string' || !/-----BEGIN (NEW )?CERTIFICATE REQUEST-----/.test(csrPem)) {
    throw new IdentityError('CSR: no PEM certificate request ("-----BEGIN CERTIFICATE REQUEST-----") found', { reason: 'invalid_csr' });
  }
  const x509 = await x509Lib();
  let csr: InstanceType<typeof x509.Pkcs10CertificateRequest>;
  try {
    csr = new x509.Pkcs10CertificateRequest(csrPem);
  } catch (e) {
    throw new IdentityError(`CSR cannot be parsed (${messageOf(e)})`, { reason: 'invalid_csr', cause: e });
  }
  let publicKey: KeyObject;
  try {
    publicKey = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' });
  } catch (e) {
    throw new IdentityError(`CSR: its public key cannot be read (${messageOf(e)})`, { reason: 'invalid_csr', cause: e });
  }
  const details = publicKey.asymmetricKeyDetails;
  if (publicKey.asymmetricKeyType === 'rsa') {
    if ((details?.modulusLength ?? 0) < 2048) throw new IdentityError(`CSR: RSA key of ${details?.modulusLength ?? '?'} bits is too weak; use at least 2048 bits or ECDSA P-256`, { reason: 'invalid_csr' });
  } else if (publicKey.asymmetricKeyType === 'ec') {
    try { signingAlgorithm(publicKey); } catch (e) { throw new IdentityError(`CSR: ${messageOf(e)}`, { reason: 'invalid_csr' }); }
  } else {
    throw new IdentityError(`CSR: ${publicKey.asymmetricKeyType ?? 'unknown'} keys are not supported; use ECDSA P-256 or RSA 2048`, { reason: 'invalid_csr' });
  }
  let ok: boolean;
  try { ok = await csr.verify(nodeWebCrypto); } catch (e) { ok = false; void e; }
  if (!ok) throw new IdentityError('CSR: its signature does not verify with its own public key (the requester does not hold the key, or the CSR was altered)', { reason: 'invalid_csr' });
  const san = csr.getExtension('2.5.29.17');
  const requestedUris: string[] = [];
  const requestedOtherNames: string[] = [];
  if (san instanceof x509.SubjectAlternativeNameExtension) {
    for (const n of san.names.items) {
      if (n.type === 'url') requestedUris.push(n.value);
      else requestedOtherNames.push(`${SAN_LABELS[n.type] ?? n.type}:${n.value}`);
    }
  }
  return { publicKey, subject: csr.subject, requestedUris, requestedOtherNames };
}
