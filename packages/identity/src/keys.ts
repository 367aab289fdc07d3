/**
 * Key pairs from node:crypto only (OpenSSL underneath): never pure-JS key generation, which is
 * slow (RSA) and not constant-time.
 */
import { generateKeyPair as generateKeyPairCb, createPublicKey, type KeyObject, type webcrypto } from 'node:crypto';
import { promisify } from 'node:util';
import { IdentityError } from './errors.js';
import { nodeWebCrypto } from './x509-lib.js';

const generateKeyPair = promisify(generateKeyPairCb);

/**
 * Key types: ECDSA on P-256 (the default: small, fast handshakes; Istio's
 * `ECC_SIGNATURE_ALGORITHM=ECDSA`) or RSA 2048 (Istio's own default, for peers that need RSA).
 */
export type KeyType = 'ecdsa-p256' | 'rsa-2048';

/** The default key type. */
export const DEFAULT_KEY_TYPE: KeyType = 'ecdsa-p256';

/** A workload's key pair; `keyPem` is PKCS#8 (`-----BEGIN PRIVATE KEY-----`). */
export interface WorkloadKey {
  keyType: KeyType;
  privateKey: KeyObject;
  publicKey: KeyObject;
  keyPem: string;
}

/**
 * Makes a key pair with node:crypto (asynchronously: RSA generation takes tens of
 * milliseconds and must not block the event loop).
 *
 * @example
 * ```ts
 * const key = await generateWorkloadKey();            // ECDSA P-256
 * const rsa = await generateWorkloadKey('rsa-2048');
 * ```
 */
export async function generateWorkloadKey(keyType: KeyType = DEFAULT_KEY_TYPE): Promise<WorkloadKey> {
  let pair: { privateKey: KeyObject; publicKey: KeyObject };
  if (keyType === 'ecdsa-p256') pair = await generateKeyPair('ec', { namedCurve: 'P-256' });
  else if (keyType === 'rsa-2048') pair = await generateKeyPair('rsa', { modulusLength: 2048, publicExponent: 0x10001 });
  else throw new IdentityError(`keyType ${JSON.stringify(keyType)} is not supported: use 'ecdsa-p256' (default) or 'rsa-2048'`, { reason: 'invalid_option' });
  return { keyType, ...pair, keyPem: pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string };
}

/** The WebCrypto signing algorithm of a key (SHA-256 in both cases, as Istio signs). */
export function signingAlgorithm(key: KeyObject): webcrypto.RsaHashedImportParams | (webcrypto.EcKeyImportParams & { hash: string }) {
  const type = key.asymmetricKeyType;
  if (type === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const namedCurve = curve === 'prime256v1' || curve === 'P-256' ? 'P-256' : curve === 'secp384r1' || curve === 'P-384' ? 'P-384' : undefined;
    if (!namedCurve) throw new IdentityError(`EC curve ${curve ?? 'unknown'} is not supported: use P-256 or P-384`, { reason: 'invalid_certificate' });
    return { name: 'ECDSA', namedCurve, hash: namedCurve === 'P-384' ? 'SHA-384' : 'SHA-256' };
  }
  if (type === 'rsa') return { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
  throw new IdentityError(`${type ?? 'unknown'} keys are not supported: use an ECDSA (P-256, P-384) or RSA key`, { reason: 'invalid_certificate' });
}

/** node:crypto KeyObjects as WebCrypto keys for @peculiar/x509 (by DER, which works on every Node >= 22). */
export async function toCryptoKeyPair(privateKey: KeyObject): Promise<webcrypto.CryptoKeyPair> {
  const alg = signingAlgorithm(privateKey);
  const subtle = nodeWebCrypto.subtle;
  const der = privateKey.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  return {
    privateKey: await subtle.importKey('pkcs8', der, alg, false, ['sign']),
    publicKey: await subtle.importKey('spki', spki, alg, true, ['verify']),
  };
}
