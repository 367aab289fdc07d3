/**
 * @meshwork/identity — SPIFFE identities, workload keys and CSRs, the CA and its trust bundle,
 * certificate sources with rotation, TLS option builders and secure naming.
 */
export { IdentityError, type IdentityErrorInit, type IdentityErrorReason } from './errors.js';
export {
  expandTrustDomains, formatSpiffeId, fromPrincipal, normalizeTrustDomain, parseSpiffeId, sameIdentity, toPrincipal,
  trustDomainGroup, tryParseSpiffeId, type SpiffeIdParts, type TrustDomainAliases,
} from './spiffe.js';
export { DEFAULT_KEY_TYPE, generateWorkloadKey, type KeyType, type WorkloadKey } from './keys.js';
export { createCsr, verifyCsr, type VerifiedCsr } from './csr.js';
export { certificateInfo, verifyChain, type CertificateInfo, type VerifyChainOptions } from './certificate.js';
export { joinPem, splitPem, subjectAltNames } from './pem.js';
export { CERT_FILE_MODE, KEY_FILE_MODE, writeFileAtomic } from './files.js';
export { TrustBundle } from './trust-bundle.js';
export {
  CA_CERTS_FILES, CertificateAuthority, writeCaCerts, type CaCertsFiles, type CertificateAuthorityOptions, type CertificateSigner,
  type IntermediateOptions, type SelfSignedCaOptions, type ServerCertificate, type ServerCertificateOptions, type SignedCertificate, type SignerResult, type SignRequest,
} from './ca.js';
export { issueIdentity, writeIdentityFiles, type IssueIdentityOptions } from './issue.js';
export type { Disposable, IdentityMaterial, IdentitySource, IdentitySourceEvents } from './source.js';
export { createCaIdentitySource, type CaIdentitySource, type CaIdentitySourceOptions, type SourceClock } from './ca-source.js';
export { createFileIdentitySource, WORKLOAD_CERT_FILES, type FileIdentitySource, type FileIdentitySourceOptions } from './file-source.js';
export {
  bindServerIdentity, clientTlsOptions, peerSpiffeId, secureContextOptions, serverTlsOptions, serverTlsSettings, verifySecureNaming,
  type ClientTlsOptions, type ServerTlsOptions,
} from './tls.js';
export {
  CLOCK_SKEW_GRACE_MS, DEFAULT_WORKLOAD_CERT_TTL_MS, INTERMEDIATE_CERT_TTL_MS, MAX_WORKLOAD_CERT_TTL_MS, MESH_ALPN, ROOT_CERT_TTL_MS,
  SECRET_GRACE_PERIOD_RATIO, SECRET_GRACE_PERIOD_RATIO_JITTER,
} from './defaults.js';
