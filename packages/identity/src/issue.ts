/**
 * One workload certificate from a signer: key pair, CSR, signature, and a check of what came
 * back. The rotating source repeats this; tools (`meshwork cert`) and tests call it once.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { CertificateSigner, SignRequest } from './ca.js';
import { verifyChain } from './certificate.js';
import { createCsr } from './csr.js';
import { DEFAULT_WORKLOAD_CERT_TTL_MS } from './defaults.js';
import { IdentityError, messageOf } from './errors.js';
import { WORKLOAD_CERT_FILES } from './file-source.js';
import { CERT_FILE_MODE, KEY_FILE_MODE, writeFileAtomic } from './files.js';
import { DEFAULT_KEY_TYPE, generateWorkloadKey, type KeyType } from './keys.js';
import { joinPem, parseCertificates } from './pem.js';
import { material, type IdentityMaterial } from './source.js';
import { formatSpiffeId, parseSpiffeId, type SpiffeIdParts } from './spiffe.js';

/** Options of {@link issueIdentity}. */
export interface IssueIdentityOptions extends Omit<SignRequest, 'spiffeId'> {
  spiffeId: string | SpiffeIdParts;
  /** Default ECDSA P-256. */
  keyType?: KeyType | undefined;
  /** The instant the returned chain must be valid at (default now; ignored with an explicit notBefore/notAfter). */
  now?: number | undefined;
}

/**
 * Makes a key with node:crypto, a CSR for the SPIFFE ID, has `signer` sign it, and checks the
 * answer (the certificate is for this key and this ID, and chains to the returned roots).
 *
 * @example
 * ```ts
 * const m = await issueIdentity(ca, { spiffeId: 'spiffe://cluster.local/ns/default/sa/reviews' });
 * https.createServer(serverTlsOptions(m), handler);
 * ```
 */
export async function issueIdentity(signer: CertificateSigner, options: IssueIdentityOptions): Promise<IdentityMaterial> {
  const spiffeId = typeof options.spiffeId === 'string' ? options.spiffeId : formatSpiffeId(options.spiffeId);
  parseSpiffeId(spiffeId);
  const key = await generateWorkloadKey(options.keyType ?? DEFAULT_KEY_TYPE);
  const csr = await createCsr(key.privateKey, spiffeId);
  let result;
  try {
    result = await signer.sign(csr, {
      spiffeId,
      ttlMs: options.ttlMs ?? DEFAULT_WORKLOAD_CERT_TTL_MS,
      notBefore: options.notBefore,
      notAfter: options.notAfter,
    });
  } catch (e) {
    throw e instanceof IdentityError ? e : new IdentityError(`the signer failed to sign ${spiffeId}: ${messageOf(e)}`, { reason: 'signing_failed', cause: e });
  }
  // Check what came back: a remote signer could answer with anything.
  const leaf = parseCertificates(result.certChainPem, 'signed certificate chain', 'signing_failed')[0]!;
  if (!leaf.checkPrivateKey(key.privateKey)) {
    throw new IdentityError(`the signer returned a certificate for another key (serial ${leaf.serialNumber})`, { reason: 'signing_failed' });
  }
  // A window asked for explicitly (e.g. an expired certificate for a test) is checked for signatures only.
  const explicit = options.notBefore !== undefined || options.notAfter !== undefined;
  const info = verifyChain(result.certChainPem, result.rootsPem, { at: options.now ?? Date.now(), checkValidity: !explicit, what: 'signed certificate chain', reason: 'signing_failed' });
  if (info.spiffeId !== spiffeId) {
    throw new IdentityError(`the signer returned a certificate for ${info.spiffeId ?? 'no SPIFFE ID'} instead of ${spiffeId}`, { reason: 'signing_failed' });
  }
  return material({ certChainPem: result.certChainPem, keyPem: key.keyPem, rootsPem: result.rootsPem, spiffeId, notBefore: info.notBefore, notAfter: info.notAfter });
}

/**
 * Writes a material in the file-mounted layout {@link createFileIdentitySource} reads:
 * `cert-chain.pem`, `key.pem` (mode 0600) and `root-cert.pem`, each replaced atomically, the
 * key first. (Readers may still see a new key with the old chain for a moment; the file
 * source rejects that mismatch and picks the set up once it is whole.)
 */
export async function writeIdentityFiles(dir: string, m: IdentityMaterial): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(dir, WORKLOAD_CERT_FILES.key), m.keyPem, KEY_FILE_MODE);
  await writeFileAtomic(join(dir, WORKLOAD_CERT_FILES.rootCert), joinPem(m.rootsPem), CERT_FILE_MODE);
  await writeFileAtomic(join(dir, WORKLOAD_CERT_FILES.certChain), m.certChainPem, CERT_FILE_MODE);
}
