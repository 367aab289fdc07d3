/**
 * The control service's certificate authority, like istiod's: a self-signed root made on the
 * first start and kept in the data directory (Istio's `cacerts` file names), or the user's
 * own plug-in CA read from a `cacerts` folder. Either way the trust bundle is published as
 * `<dataDir>/ca/root-cert.pem`, so CLIs and SDKs on the same machine can trust the control
 * service's HTTPS and the certificates it signs. X.509 is @meshwork/identity's job.
 */
import { X509Certificate } from 'node:crypto';
import { chmod, mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CA_CERTS_FILES, CERT_FILE_MODE, CertificateAuthority, writeFileAtomic } from '@meshwork/identity';

/** The folder of the CA inside the data directory. */
export const CONTROL_CA_DIR = 'ca';

export interface ControlCaOptions {
  /** The control service's data directory; the CA lives in `<dataDir>/ca/` (0700). */
  dataDir: string;
  /**
   * A plug-in CA in Istio's `cacerts` layout (`ca-cert.pem`, `ca-key.pem`, `root-cert.pem`,
   * `cert-chain.pem` for an intermediate), read and never written. Without it, a self-signed
   * root is made in `<dataDir>/ca/` on the first start and reused afterwards.
   */
  caCertsDir?: string | undefined;
  /** The trust domain certificates are signed for (default `cluster.local`). */
  trustDomain?: string | undefined;
  /** The clock for validity windows, in milliseconds since the epoch (tests). */
  now?: (() => number) | undefined;
}

export interface ControlCa {
  ca: CertificateAuthority;
  /** The trusted roots, one PEM each (what a snapshot and `GET /v1/trust-bundle` carry). */
  trustBundle(): string[];
  /** `<dataDir>/ca/root-cert.pem`: the trust bundle on disk, for local CLIs and SDKs. */
  rootCertPath: string;
  /** Where the signing CA comes from. */
  mode: 'self-signed' | 'plug-in';
}

/**
 * Opens the control CA.
 *
 * - Without `caCertsDir`: `<dataDir>/ca/` holds `ca-cert.pem`, `ca-key.pem` (0600) and
 *   `root-cert.pem`, made on the first start (ECDSA P-256, 10 years, `O=<trust domain>`) and
 *   loaded on later ones.
 * - With `caCertsDir`: the plug-in CA signs; only `<dataDir>/ca/root-cert.pem` is written (its
 *   roots). If `<dataDir>/ca/` still holds a self-signed root from earlier starts, that root
 *   stays in the trust bundle, so workloads holding its certificates keep working while they
 *   rotate onto the plug-in CA (delete `<dataDir>/ca/ca-cert.pem` and `ca-key.pem` to drop it).
 *
 * @example
 * ```ts
 * const { ca, rootCertPath } = await openControlCa({ dataDir: '/var/lib/meshwork' });
 * // CLIs on this machine: --ca-file <rootCertPath>
 * ```
 */
export async function openControlCa(options: ControlCaOptions): Promise<ControlCa> {
  if (!options || typeof options.dataDir !== 'string' || options.dataDir === '' || options.dataDir === ':memory:') {
    throw new TypeError('openControlCa: options.dataDir must be a directory (the CA keeps its root there)');
  }
  const dir = join(options.dataDir, CONTROL_CA_DIR);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const caOptions = { ...(options.trustDomain !== undefined ? { trustDomain: options.trustDomain } : {}), ...(options.now ? { now: options.now } : {}) };
  const rootCertPath = join(dir, CA_CERTS_FILES.rootCert);
  if (options.caCertsDir === undefined) {
    // identity writes the key 0600, the certificates 0644, each file atomically.
    const ca = await CertificateAuthority.selfSigned({ ...caOptions, dir });
    return { ca, trustBundle: () => [...ca.rootsPem], rootCertPath, mode: 'self-signed' };
  }
  const previous = await previousSelfSignedRoot(dir);
  const ca = await CertificateAuthority.fromCaCerts(options.caCertsDir, { ...caOptions, ...(previous ? { extraRoots: [previous] } : {}) });
  await writeFileAtomic(rootCertPath, ca.trustBundle.toString(), CERT_FILE_MODE);
  return { ca, trustBundle: () => [...ca.rootsPem], rootCertPath, mode: 'plug-in' };
}

/** The self-signed root a previous start left in `<dataDir>/ca/`, if any (never its key). */
async function previousSelfSignedRoot(dir: string): Promise<string | undefined> {
  let pem: string;
  try {
    pem = await readFile(join(dir, CA_CERTS_FILES.caCert), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const cert = new X509Certificate(pem);
    return cert.ca && cert.checkIssued(cert) && cert.verify(cert.publicKey) ? cert.toString() : undefined;
  } catch {
    return undefined;
  }
}

