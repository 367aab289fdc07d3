/** Istio's identity defaults (reference §12), in milliseconds. */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** `SECRET_TTL` / `DEFAULT_WORKLOAD_CERT_TTL`: workload certificates live 24 h. */
export const DEFAULT_WORKLOAD_CERT_TTL_MS = DAY;
/** `MAX_WORKLOAD_CERT_TTL`: the CA caps workload certificates at 90 days. */
export const MAX_WORKLOAD_CERT_TTL_MS = 90 * DAY;
/** Istio's self-signed root CA lives 10 years (`DefaultSelfSignedCACertTTL`, 3650 days). */
export const ROOT_CERT_TTL_MS = 3650 * DAY;
/** Intermediates made by `signIntermediate` live one year unless asked otherwise. */
export const INTERMEDIATE_CERT_TTL_MS = 365 * DAY;
/** notBefore is set this far in the past so peers with a slightly slow clock accept a fresh certificate (Istio's `ClockSkewGracePeriod`). */
export const CLOCK_SKEW_GRACE_MS = 2 * MINUTE;
/** `SECRET_GRACE_PERIOD_RATIO`: rotate when half of the lifetime has passed. */
export const SECRET_GRACE_PERIOD_RATIO = 0.5;
/** `SECRET_GRACE_PERIOD_RATIO_JITTER`: ±1 % of the lifetime (≈ ±15 min on 24 h) so a fleet does not rotate in step. */
export const SECRET_GRACE_PERIOD_RATIO_JITTER = 0.01;
/** ALPN a mesh mTLS connection offers and a mesh server accepts (Istio's, plus HTTP/1.1 for Node's https). */
export const MESH_ALPN: readonly string[] = Object.freeze(['istio-peer-exchange', 'istio', 'http/1.1']);
