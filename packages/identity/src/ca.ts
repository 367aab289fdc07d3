/**
 * The certificate authority: a self-made root kept in a folder, or the user's own root or
 * intermediate in Istio's plug-in `cacerts` layout. It signs workload certificates from CSRs
 * for the identity the caller decides, never for what the CSR asks.
 */
import { X509Certificate, randomBytes, type KeyObject, type webcrypto } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import { walkChain } from './certificate.js';
import { verifyCsr } from './csr.js';
import {
  CLOCK_SKEW_GRACE_MS, DEFAULT_WORKLOAD_CERT_TTL_MS, INTERMEDIATE_CERT_TTL_MS, MAX_WORKLOAD_CERT_TTL_MS, ROOT_CERT_TTL_MS,
} from './defaults.js';
import { IdentityError, messageOf } from './errors.js';
import { CERT_FILE_MODE, KEY_FILE_MODE, readIfExists, writeFileAtomic } from './files.js';
import { DEFAULT_KEY_TYPE, generateWorkloadKey, signingAlgorithm, toCryptoKeyPair, type KeyType } from './keys.js';
import { joinPem, parseCertificates, parsePrivateKey } from './pem.js';
import { redactKeyPem } from './redact.js';
import { normalizeTrustDomain, parseSpiffeId } from './spiffe.js';
import { TrustBundle } from './trust-bundle.js';
import { nodeWebCrypto, x509Lib } from './x509-lib.js';

/** What to sign: the identity (decided by the caller, e.g. from a verified join token) and the lifetime. */
export interface SignRequest {
  /** The SPIFFE ID the certificate will carry as its only URI SAN. */
  spiffeId: string;
  /** Requested lifetime (default 24 h); capped at the CA's `maxTtlMs` (90 days). */
  ttlMs?: number | undefined;
  /**
   * Explicit validity start (default: now minus 2 minutes of clock-skew grace). With `notAfter`,
   * this makes expired or not-yet-valid certificates for tests.
   */
  notBefore?: Date | undefined;
  /** Explicit validity end (default: now + ttl). The lifetime is still capped. */
  notAfter?: Date | undefined;
}

/** What any signer returns: enough for a workload to serve TLS. */
export interface SignerResult {
  /** The new certificate first, then the intermediates (the `cert-chain.pem` format). */
  certChainPem: string;
  /** The trust bundle: every root the mesh trusts, one PEM each. */
  rootsPem: readonly string[];
}

/**
 * Anything that turns a CSR into a certificate: the in-process {@link CertificateAuthority}, or a
 * client of the control service's CA. {@link createCaIdentitySource} works with either.
 */
export interface CertificateSigner {
  sign(csrPem: string, request: SignRequest): Promise<SignerResult>;
}

/** A signed workload certificate, as plain data. */
export interface SignedCertificate extends SignerResult {
  /** The new certificate alone. */
  certPem: string;
  spiffeId: string;
  /** Hex, upper case. */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
}

/** Istio's plug-in CA files, as text (`ca-key.pem` is a private key: keep it 0600). */
export interface CaCertsFiles {
  /** `ca-cert.pem`: the certificate the CA signs with. */
  caCertPem: string;
  /** `ca-key.pem`: its private key. */
  caKeyPem: string;
  /** `root-cert.pem`: the root(s) every workload trusts. */
  rootCertPem: string;
  /** `cert-chain.pem`: from `ca-cert.pem` up to the root; empty for a self-signed root. */
  certChainPem: string;
}

/** The file names of Istio's plug-in `cacerts` folder. */
export const CA_CERTS_FILES = Object.freeze({
  caCert: 'ca-cert.pem',
  caKey: 'ca-key.pem',
  rootCert: 'root-cert.pem',
  certChain: 'cert-chain.pem',
});

/** Options every CA takes. */
export interface CertificateAuthorityOptions {
  /** The trust domain this CA signs identities for (default `cluster.local`; `@` becomes `.`). */
  trustDomain?: string;
  /** Lifetime when a request names none (default 24 h, Istio's `DEFAULT_WORKLOAD_CERT_TTL`). */
  defaultTtlMs?: number;
  /** Longest lifetime it signs (default 90 days, Istio's `MAX_WORKLOAD_CERT_TTL`); longer requests are capped. */
  maxTtlMs?: number;
  /** More roots to trust besides the CA's own, e.g. the previous root while workloads move to the new one. */
  extraRoots?: readonly string[];
  /** Clock (ms since the epoch) for validity windows; for tests. */
  now?: () => number;
}

/** Options of {@link CertificateAuthority.selfSigned}. */
export interface SelfSignedCaOptions extends CertificateAuthorityOptions {
  /**
   * Folder that keeps the root (`ca-cert.pem`, `ca-key.pem` mode 0600, `root-cert.pem`): made
   * on first use, reloaded afterwards. Omitted: the root lives in memory only.
   */
  dir?: string;
  /** Key type of a new root (default ECDSA P-256). */
  keyType?: KeyType;
  /** Lifetime of a new root (default 10 years). */
  rootTtlMs?: number;
}

/** Options of {@link CertificateAuthority.signIntermediate}. */
export interface IntermediateOptions {
  /** CN of the intermediate (default `Intermediate CA`). */
  commonName?: string;
  /** Default one year, never past the issuing CA's own notAfter. */
  ttlMs?: number;
  keyType?: KeyType;
}

/** Options of {@link CertificateAuthority.issueServerCertificate}. */
export interface ServerCertificateOptions {
  /**
   * The DNS names and IP addresses clients reach the server by, e.g. `['localhost', '127.0.0.1',
   * '::1', 'control.example.com']`. At least one; duplicates are dropped, DNS names lower-cased.
   */
  hosts: readonly string[];
  /** Lifetime (default the CA's `defaultTtlMs`, 24 h); capped at `maxTtlMs` and at the CA certificate's notAfter. */
  ttlMs?: number | undefined;
  /** Key type of the new key (default ECDSA P-256). */
  keyType?: KeyType | undefined;
}

/** A TLS server certificate for host names, with its new key. Prints `keyPem` as `[redacted]`. */
export interface ServerCertificate {
  /** The new certificate alone. */
  certPem: string;
  /** The certificate, then the intermediates (what `tls` takes as `cert`). */
  certChainPem: string;
  /** The private key (PKCS#8), made for this certificate. */
  keyPem: string;
  /** The trust bundle clients verify the chain with. */
  rootsPem: readonly string[];
  dnsNames: readonly string[];
  ipAddresses: readonly string[];
  /** Hex, upper case. */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
}

interface CaState {
  trustDomain: string;
  caCert: X509Certificate;
  caKey: KeyObject;
  /** PEM appended to every issued leaf (intermediates, possibly the root, as given). */
  chainPem: string;
  /** The root this CA's chain ends in. */
  root: X509Certificate;
  bundle: TrustBundle;
  defaultTtlMs: number;
  maxTtlMs: number;
  now: () => number;
}

// One creation at a time per folder in this process: two callers must not make two roots.
const creating = new Map<string, Promise<CertificateAuthority>>();

function positive(name: string, v: number | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  if (!Number.isFinite(v) || v <= 0) throw new IdentityError(`${name} must be a positive number of milliseconds, got ${String(v)}`, { reason: 'invalid_option' });
  return v;
}

/** A random positive serial of 128 bits (RFC 5280 allows up to 20 octets; Istio uses 128 random bits). */
function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) | 0x01; // positive, and never a shorter encoding
  return b.toString('hex');
}

/**
 * A certificate authority for workload identities.
 *
 * @example
 * ```ts
 * const ca = await CertificateAuthority.selfSigned({ dir: '/var/lib/meshwork/ca' });
 * const key = await generateWorkloadKey();
 * const csr = await createCsr(key.privateKey, 'spiffe://cluster.local/ns/default/sa/reviews');
 * const cert = await ca.sign(csr, { spiffeId: 'spiffe://cluster.local/ns/default/sa/reviews' });
 * ```
 */
export class CertificateAuthority implements CertificateSigner {
  #s: CaState;
  // What every signature needs from the CA certificate and key, prepared once.
  #prepared: Promise<Prepared> | undefined;

  private constructor(state: CaState) {
    this.#s = state;
  }

  /**
   * A CA with its own root: generated on first use into `dir` (key 0600, certificates 0644),
   * loaded from there on later starts. A folder that already holds a CA (also a plug-in one) is
   * loaded as is. Without `dir` the root lives only in memory.
   */
  static async selfSigned(options: SelfSignedCaOptions = {}): Promise<CertificateAuthority> {
    const { dir } = options;
    if (dir === undefined) return CertificateAuthority.fromPem(await makeRoot(options), options);
    const folder = resolve(dir);
    const pending = creating.get(folder);
    if (pending) return pending;
    const p = (async () => {
      const cert = await readIfExists(join(dir, CA_CERTS_FILES.caCert));
      if (cert !== undefined) return CertificateAuthority.fromCaCerts(dir, options);
      if (await readIfExists(join(dir, CA_CERTS_FILES.caKey)) !== undefined) {
        throw new IdentityError(`${join(dir, CA_CERTS_FILES.caKey)} exists but ${CA_CERTS_FILES.caCert} does not (an interrupted first start?): restore ${CA_CERTS_FILES.caCert}, or delete the folder to make a new root (every workload certificate of the old root stops being trusted)`, { reason: 'invalid_ca_files', file: join(dir, CA_CERTS_FILES.caKey) });
      }
      const files = await makeRoot(options);
      await writeCaCerts(dir, files);
      return CertificateAuthority.fromPem(files, options);
    })();
    creating.set(folder, p);
    try {
      return await p;
    } finally {
      creating.delete(folder);
    }
  }

  /**
   * The user's own CA in Istio's plug-in layout: `ca-cert.pem`, `ca-key.pem`, `root-cert.pem`
   * (one or more roots) and, for an intermediate, `cert-chain.pem` (from `ca-cert.pem` up to the
   * root). Every problem is reported with the file it is in.
   */
  static async fromCaCerts(dir: string, options: CertificateAuthorityOptions = {}): Promise<CertificateAuthority> {
    const read = async (name: string, required: boolean): Promise<string> => {
      const path = join(dir, name);
      let text: string | undefined;
      try {
        text = await readIfExists(path);
      } catch (e) {
        throw new IdentityError(`${path} cannot be read (${messageOf(e)})`, { reason: 'invalid_ca_files', file: path, cause: e });
      }
      if (text === undefined && required) {
        throw new IdentityError(`${path} is missing: a cacerts folder holds ca-cert.pem, ca-key.pem, root-cert.pem and, when ca-cert.pem is an intermediate, cert-chain.pem`, { reason: 'invalid_ca_files', file: path });
      }
      return text ?? '';
    };
    const files: CaCertsFiles = {
      caCertPem: await read(CA_CERTS_FILES.caCert, true),
      caKeyPem: await read(CA_CERTS_FILES.caKey, true),
      rootCertPem: await read(CA_CERTS_FILES.rootCert, true),
      certChainPem: await read(CA_CERTS_FILES.certChain, false),
    };
    return CertificateAuthority.fromPem(files, options, dir);
  }

  /**
   * A CA from the plug-in files' contents held in memory (see {@link CertificateAuthority.fromCaCerts}).
   * @param dir where the files came from, only to name them in errors
   */
  static async fromPem(files: CaCertsFiles, options: CertificateAuthorityOptions = {}, dir?: string): Promise<CertificateAuthority> {
    const where = (name: string): string => (dir ? join(dir, name) : name);
    const bad = (name: string, message: string, cause?: unknown): IdentityError =>
      new IdentityError(`${where(name)}: ${message}`, { reason: 'invalid_ca_files', file: where(name), cause });
    const now = options.now ?? Date.now;
    const caCert = parseCertificates(files.caCertPem, where(CA_CERTS_FILES.caCert), 'invalid_ca_files', where(CA_CERTS_FILES.caCert))[0]!;
    const caKey = parsePrivateKey(files.caKeyPem, where(CA_CERTS_FILES.caKey), 'invalid_ca_files', where(CA_CERTS_FILES.caKey));
    if (!caCert.checkPrivateKey(caKey)) throw bad(CA_CERTS_FILES.caKey, `this key does not belong to the certificate in ${CA_CERTS_FILES.caCert}; put the matching pair in both files`);
    if (!caCert.ca) throw bad(CA_CERTS_FILES.caCert, 'not a CA certificate (basicConstraints CA:TRUE is missing): a workload certificate cannot sign others');
    try { signingAlgorithm(caKey); } catch (e) { throw bad(CA_CERTS_FILES.caKey, messageOf(e), e); }
    const x509 = await x509Lib();
    const usage = new x509.X509Certificate(caCert.raw).getExtension(x509.KeyUsagesExtension);
    if (usage && !(usage.usages & x509.KeyUsageFlags.keyCertSign)) throw bad(CA_CERTS_FILES.caCert, 'its keyUsage lacks keyCertSign, so TLS peers would refuse what it signs');
    const roots = parseCertificates(files.rootCertPem, where(CA_CERTS_FILES.rootCert), 'invalid_ca_files', where(CA_CERTS_FILES.rootCert));
    let bundle: TrustBundle;
    try { bundle = new TrustBundle([files.rootCertPem, ...(options.extraRoots ?? [])]); } catch (e) { throw bad(CA_CERTS_FILES.rootCert, messageOf(e), e); }
    const chainCerts = files.certChainPem.trim() ? parseCertificates(files.certChainPem, where(CA_CERTS_FILES.certChain), 'invalid_ca_files', where(CA_CERTS_FILES.certChain)) : [];
    const issuing = chainCerts[0]?.fingerprint256 === caCert.fingerprint256 ? chainCerts : [caCert, ...chainCerts];
    let root: X509Certificate;
    try {
      root = walkChain(issuing, roots, { at: now(), what: where(chainCerts.length ? CA_CERTS_FILES.certChain : CA_CERTS_FILES.caCert) }).root;
    } catch (e) {
      const file = chainCerts.length ? CA_CERTS_FILES.certChain : CA_CERTS_FILES.caCert;
      throw new IdentityError(`${messageOf(e)}; ${CA_CERTS_FILES.caCert}, then ${CA_CERTS_FILES.certChain}, must lead to a root in ${CA_CERTS_FILES.rootCert}, all valid now`, { reason: 'invalid_ca_files', file: where(file), cause: e });
    }
    // A self-signed root adds nothing to a leaf's chain; an intermediate's chain goes along as given.
    const selfRoot = caCert.fingerprint256 === root.fingerprint256;
    const chainPem = selfRoot ? '' : joinPem(issuing.map((c) => c.toString()));
    const state: CaState = {
      trustDomain: normalizeTrustDomain(options.trustDomain ?? 'cluster.local'),
      caCert, caKey, chainPem, root, bundle,
      defaultTtlMs: positive('defaultTtlMs', options.defaultTtlMs, DEFAULT_WORKLOAD_CERT_TTL_MS),
      maxTtlMs: positive('maxTtlMs', options.maxTtlMs, MAX_WORKLOAD_CERT_TTL_MS),
      now,
    };
    return new CertificateAuthority(state);
  }

  /** The trust domain this CA signs for. */
  get trustDomain(): string {
    return this.#s.trustDomain;
  }

  /** The certificate this CA signs with (`ca-cert.pem`). */
  get caCertPem(): string {
    return this.#s.caCert.toString();
  }

  /** The root this CA's certificates lead to. */
  get rootCertPem(): string {
    return this.#s.root.toString();
  }

  /** Every trusted root: the CA's own and any extra ones (root rotation). */
  get trustBundle(): TrustBundle {
    return this.#s.bundle;
  }

  /** One PEM per trusted root (what `tls` takes as `ca`). */
  get rootsPem(): readonly string[] {
    return this.#s.bundle.rootsPem;
  }

  /**
   * Replaces the trust bundle (add the next root before switching, drop the old one after). The
   * CA's own root must stay in it, or its certificates would not be trusted.
   */
  setTrustBundle(bundle: TrustBundle | readonly string[]): void {
    const b = bundle instanceof TrustBundle ? bundle : new TrustBundle(bundle);
    if (!b.has(this.rootCertPem)) {
      throw new IdentityError('the trust bundle must keep this CA\'s own root; switch the CA to the new root first, then drop the old root', { reason: 'invalid_option' });
    }
    this.#s = { ...this.#s, bundle: b };
  }

  /**
   * Signs a workload certificate. The identity comes from `request.spiffeId` only: the CSR's
   * subject and SANs are ignored; the CSR's signature is checked (proof the requester holds
   * the key). The certificate has an empty subject, the SPIFFE ID as its only (critical) URI
   * SAN, keyUsage digitalSignature + keyEncipherment, extKeyUsage serverAuth + clientAuth,
   * basicConstraints CA:FALSE, authority and subject key identifiers, a random 128-bit serial,
   * notBefore 2 minutes in the past and a lifetime of `ttlMs` (24 h) capped at `maxTtlMs`
   * (90 days) and at the CA certificate's own notAfter.
   */
  async sign(csrPem: string, request: SignRequest): Promise<SignedCertificate> {
    const s = this.#s;
    const id = parseSpiffeId(request.spiffeId);
    if (id.trustDomain !== s.trustDomain) {
      throw new IdentityError(`this CA signs identities of trust domain ${s.trustDomain}; ${request.spiffeId} is in ${id.trustDomain} (set the CA's trustDomain option, or ask for ${request.spiffeId.replace(id.trustDomain, s.trustDomain)})`, { reason: 'signing_failed' });
    }
    const csr = await verifyCsr(csrPem);
    const { notBefore, notAfter } = this.#window(request);
    const x509 = await x509Lib();
    const leaf = await this.#issueLeaf({
      publicKeyDer: csr.publicKey.export({ type: 'spki', format: 'der' }),
      // An empty subject, as Istio issues: the identity is the SAN, which is then critical (RFC 5280 §4.2.1.6).
      subject: '',
      sans: [{ type: 'url', value: request.spiffeId }],
      extendedKeyUsages: [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth],
      notBefore,
      notAfter,
    });
    return { ...leaf, spiffeId: request.spiffeId };
  }

  /**
   * Makes a key and a TLS server certificate for host names and IP addresses (not a mesh
   * identity): e.g. the control service's own HTTPS certificate, which CLIs and SDKs verify
   * against this CA's trust bundle like any HTTPS client (host-name checking, not secure
   * naming). Subject `CN=<first host>`, the DNS and IP SANs, keyUsage digitalSignature +
   * keyEncipherment, extKeyUsage serverAuth only, CA:FALSE, a random serial, notBefore 2
   * minutes in the past.
   *
   * @example
   * ```ts
   * const c = await ca.issueServerCertificate({ hosts: ['localhost', '127.0.0.1', '::1'] });
   * https.createServer({ key: c.keyPem, cert: c.certChainPem }, handler);
   * // clients: https.request({ ca: ca.rootsPem, ... })
   * ```
   */
  async issueServerCertificate(options: ServerCertificateOptions): Promise<ServerCertificate> {
    const { dnsNames, ipAddresses } = serverNames(options?.hosts);
    const { notBefore, notAfter } = this.#window({ ttlMs: options.ttlMs });
    const key = await generateWorkloadKey(options.keyType ?? DEFAULT_KEY_TYPE);
    const x509 = await x509Lib();
    const leaf = await this.#issueLeaf({
      publicKeyDer: key.publicKey.export({ type: 'spki', format: 'der' }),
      subject: `CN=${dnsNames[0] ?? ipAddresses[0]!}`,
      sans: [...dnsNames.map((value) => ({ type: 'dns' as const, value })), ...ipAddresses.map((value) => ({ type: 'ip' as const, value }))],
      extendedKeyUsages: [x509.ExtendedKeyUsage.serverAuth],
      notBefore,
      notAfter,
    });
    return redactKeyPem({ ...leaf, keyPem: key.keyPem, dnsNames, ipAddresses }, 'keyPem');
  }

  /** One end-entity certificate signed by this CA, with the extensions both kinds share. */
  async #issueLeaf(leaf: {
    publicKeyDer: Buffer;
    subject: string;
    sans: { type: 'url' | 'dns' | 'ip'; value: string }[];
    extendedKeyUsages: string[];
    notBefore: Date;
    notAfter: Date;
  }): Promise<SignerResult & { certPem: string; serialNumber: string; notBefore: Date; notAfter: Date }> {
    const s = this.#s;
    const { x509, issuer, signingKey, aki } = await this.#prepare();
    const publicKey = new x509.PublicKey(leaf.publicKeyDer);
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: leaf.subject,
      issuer,
      notBefore: leaf.notBefore,
      notAfter: leaf.notAfter,
      publicKey,
      signingKey,
      signingAlgorithm: signingAlgorithm(s.caKey),
      extensions: [
        // RFC 5280 §4.2.1.6: the SAN is critical when the subject is empty.
        new x509.SubjectAlternativeNameExtension(leaf.sans, leaf.subject === ''),
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
        new x509.ExtendedKeyUsageExtension(leaf.extendedKeyUsages),
        aki,
        await x509.SubjectKeyIdentifierExtension.create(publicKey, false, nodeWebCrypto),
      ],
    }, nodeWebCrypto);
    const certPem = cert.toString('pem') + '\n';
    const parsed = new X509Certificate(certPem);
    return {
      certPem,
      certChainPem: certPem + s.chainPem,
      rootsPem: s.bundle.rootsPem,
      serialNumber: parsed.serialNumber,
      notBefore: new Date(parsed.validFrom),
      notAfter: new Date(parsed.validTo),
    };
  }

  /**
   * Makes an intermediate CA under this one, returned in the plug-in layout (write it with
   * {@link writeCaCerts}, load it with {@link CertificateAuthority.fromCaCerts}); e.g. one
   * intermediate per cluster under a shared root, as Istio's multi-cluster setup does.
   */
  async signIntermediate(options: IntermediateOptions = {}): Promise<CaCertsFiles> {
    const s = this.#s;
    const { x509, issuer, signingKey, aki } = await this.#prepare();
    const key = await generateWorkloadKey(options.keyType ?? DEFAULT_KEY_TYPE);
    const keys = await toCryptoKeyPair(key.privateKey);
    const start = s.now() - CLOCK_SKEW_GRACE_MS;
    const end = Math.min(s.now() + positive('ttlMs', options.ttlMs, INTERMEDIATE_CERT_TTL_MS), Date.parse(s.caCert.validTo));
    const cert = await x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: `O=${s.trustDomain}, CN=${options.commonName ?? 'Intermediate CA'}`,
      issuer,
      notBefore: new Date(start),
      notAfter: new Date(end),
      publicKey: keys.publicKey,
      signingKey,
      signingAlgorithm: signingAlgorithm(s.caKey),
      extensions: [
        new x509.BasicConstraintsExtension(true, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
        aki,
        await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, nodeWebCrypto),
      ],
    }, nodeWebCrypto);
    const caCertPem = cert.toString('pem') + '\n';
    return redactKeyPem({
      caCertPem,
      caKeyPem: key.keyPem,
      rootCertPem: this.#s.bundle.toString(),
      certChainPem: caCertPem + s.chainPem + (s.chainPem ? '' : s.caCert.toString()),
    }, 'caKeyPem');
  }

  #prepare(): Promise<Prepared> {
    this.#prepared ??= (async () => {
      const x509 = await x509Lib();
      const ca = new x509.X509Certificate(this.#s.caCert.raw);
      return { x509, issuer: ca.subjectName, signingKey: (await toCryptoKeyPair(this.#s.caKey)).privateKey, aki: await authorityKeyId(x509, ca) };
    })();
    return this.#prepared;
  }

  #window(request: Omit<SignRequest, 'spiffeId'>): { notBefore: Date; notAfter: Date } {
    const s = this.#s;
    const now = s.now();
    const ttl = positive('ttlMs', request.ttlMs, s.defaultTtlMs);
    const start = request.notBefore ? +request.notBefore : now - CLOCK_SKEW_GRACE_MS;
    let end = request.notAfter ? +request.notAfter : (request.notBefore ? start : now) + ttl;
    if (!Number.isFinite(start) || !Number.isFinite(end)) throw new IdentityError('notBefore and notAfter must be valid dates', { reason: 'invalid_option' });
    // Istio caps the lifetime at MAX_WORKLOAD_CERT_TTL; the skew grace before "now" does not count.
    end = Math.min(end, Math.max(start, now) + s.maxTtlMs);
    // A certificate cannot usefully outlive the CA certificate that signed it.
    end = Math.min(end, Date.parse(s.caCert.validTo));
    if (end <= start) {
      throw new IdentityError(`the certificate would end (${new Date(end).toISOString()}) before it starts (${new Date(start).toISOString()}); check notBefore/notAfter and the CA certificate's validity`, { reason: 'invalid_option' });
    }
    return { notBefore: new Date(start), notAfter: new Date(end) };
  }
}

type X509 = Awaited<ReturnType<typeof x509Lib>>;

interface Prepared {
  x509: X509;
  /** The CA certificate's subject, as encoded there (issuer names must match byte for byte). */
  issuer: InstanceType<X509['Name']>;
  signingKey: webcrypto.CryptoKey;
  aki: InstanceType<X509['AuthorityKeyIdentifierExtension']>;
}

/** The AKI of certificates this CA signs: the CA certificate's own SKI when it has one (so OpenSSL matches them exactly). */
async function authorityKeyId(x509: X509, ca: InstanceType<X509['X509Certificate']>): Promise<InstanceType<X509['AuthorityKeyIdentifierExtension']>> {
  const ski = ca.getExtension(x509.SubjectKeyIdentifierExtension);
  if (ski) return new x509.AuthorityKeyIdentifierExtension(ski.keyId);
  return x509.AuthorityKeyIdentifierExtension.create(ca.publicKey, false, nodeWebCrypto);
}

// RFC 1123 host names: labels of letters, digits and '-', not starting or ending with '-'.
const DNS_NAME = /^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;

/** Splits a server certificate's hosts into DNS names and IP addresses, refusing anything else. */
function serverNames(hosts: readonly string[] | undefined): { dnsNames: string[]; ipAddresses: string[] } {
  if (!Array.isArray(hosts) || hosts.length === 0) {
    throw new IdentityError('a server certificate needs at least one host: a DNS name or an IP address (e.g. hosts: [\'localhost\', \'127.0.0.1\'])', { reason: 'invalid_option' });
  }
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const h of hosts) {
    if (typeof h !== 'string') throw new IdentityError(`a host must be a string, got ${typeof h}`, { reason: 'invalid_option' });
    const ip = h.startsWith('[') && h.endsWith(']') ? h.slice(1, -1) : h;
    if (isIP(ip) !== 0) {
      if (!ipAddresses.includes(ip)) ipAddresses.push(ip);
      continue;
    }
    const name = h.toLowerCase().replace(/\.$/, '');
    if (!DNS_NAME.test(name)) {
      throw new IdentityError(`${JSON.stringify(h.slice(0, 100))} is neither an IP address nor a DNS name (letters, digits, "-" and "."); a server certificate names the hosts clients connect to`, { reason: 'invalid_option' });
    }
    if (!dnsNames.includes(name)) dnsNames.push(name);
  }
  return { dnsNames, ipAddresses };
}

async function makeRoot(options: SelfSignedCaOptions): Promise<CaCertsFiles> {
  const x509 = await x509Lib();
  const now = (options.now ?? Date.now)();
  const td = normalizeTrustDomain(options.trustDomain ?? 'cluster.local');
  const key = await generateWorkloadKey(options.keyType ?? DEFAULT_KEY_TYPE);
  const keys = await toCryptoKeyPair(key.privateKey);
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    // Istio's self-signed root names the trust domain as its organisation.
    name: `O=${td}`,
    notBefore: new Date(now - CLOCK_SKEW_GRACE_MS),
    notAfter: new Date(now + positive('rootTtlMs', options.rootTtlMs, ROOT_CERT_TTL_MS)),
    keys,
    signingAlgorithm: signingAlgorithm(key.privateKey),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, nodeWebCrypto),
    ],
  }, nodeWebCrypto);
  const pem = cert.toString('pem') + '\n';
  return redactKeyPem({ caCertPem: pem, caKeyPem: key.keyPem, rootCertPem: pem, certChainPem: '' }, 'caKeyPem');
}

/**
 * Writes CA files in the plug-in layout: the key with mode 0600, certificates 0644, each file
 * replaced atomically, `ca-cert.pem` last (its presence means the set is complete). The folder
 * is created with mode 0700 when missing. An empty `certChainPem` writes no `cert-chain.pem`.
 */
export async function writeCaCerts(dir: string, files: CaCertsFiles): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(dir, CA_CERTS_FILES.caKey), files.caKeyPem, KEY_FILE_MODE);
  await writeFileAtomic(join(dir, CA_CERTS_FILES.rootCert), files.rootCertPem, CERT_FILE_MODE);
  if (files.certChainPem.trim()) await writeFileAtomic(join(dir, CA_CERTS_FILES.certChain), files.certChainPem, CERT_FILE_MODE);
  await writeFileAtomic(join(dir, CA_CERTS_FILES.caCert), files.caCertPem, CERT_FILE_MODE);
}
