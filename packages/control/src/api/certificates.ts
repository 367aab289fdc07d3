/**
 * `POST /v1/certificates:sign` and `GET /v1/trust-bundle`: the control CA signs a workload's
 * CSR for the identity its token grants, as istiod's CA does (security/pkg/server/ca/server.go
 * CreateCertificate: the SAN is the caller's authenticated identity, never what the CSR says;
 * security/pkg/pki/ca/ca.go sign: the CSR's signature must verify, a non-positive TTL means
 * the default). Where Istio silently replaces what the CSR asks for, we refuse a CSR that asks
 * for anything but that one identity, so a confused or malicious caller learns it at once
 * instead of holding a certificate that is not what it asked for.
 */
import { X509Certificate } from 'node:crypto';
import {
  DEFAULT_WORKLOAD_CERT_TTL_MS, IdentityError, MAX_WORKLOAD_CERT_TTL_MS, formatSpiffeId, splitPem, tryParseSpiffeId, verifyCsr,
  type CertificateAuthority, type VerifiedCsr,
} from '@meshwork/identity';
import type { WireSignResponse } from '@meshwork/policy';
import type { Principal } from './auth.js';
import { ApiError } from './http.js';
import type { JsonReply } from './resources.js';

/** The largest sign request body: a CSR is about 500 bytes (ECDSA) to 1.5 KiB (RSA 4096). */
export const MAX_SIGN_BODY_BYTES = 64 * 1024;

const FIELDS = new Set(['csr', 'ttlSeconds']);

function invalid(message: string, extra: Record<string, unknown> = {}): ApiError {
  return new ApiError(400, 'invalid', message, extra);
}

function invalidCsr(message: string, extra: Record<string, unknown> = {}): ApiError {
  return new ApiError(400, 'invalid_csr', message, extra);
}

/** 501 when the server was started without a CA. */
export function noCa(): ApiError {
  return new ApiError(501, 'not_configured', 'this control service has no certificate authority (start it with a CA: openControlCa, or meshwork control --data-dir)');
}

/** The body, checked against WireSignRequest ({ csr, ttlSeconds? }). */
function parseSignRequest(body: Buffer): { csr: string; ttlSeconds: number | undefined } {
  let v: unknown;
  try {
    v = JSON.parse(body.toString('utf8'));
  } catch (e) {
    throw new ApiError(400, 'malformed', `invalid JSON: ${(e as Error).message}`);
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw invalid('the body must be a JSON object { csr, ttlSeconds? }');
  const o = v as Record<string, unknown>;
  const unknown = Object.keys(o).filter((k) => !FIELDS.has(k));
  if (unknown.length > 0) throw invalid(`unknown field${unknown.length === 1 ? '' : 's'}: ${unknown.slice(0, 5).join(', ')}`, { allowed: [...FIELDS] });
  if (typeof o.csr !== 'string' || o.csr === '') throw invalid('csr must be a PEM certificate request ("-----BEGIN CERTIFICATE REQUEST-----")');
  const ttl = o.ttlSeconds;
  if (ttl !== undefined && ttl !== null && (typeof ttl !== 'number' || !Number.isInteger(ttl) || ttl < 1)) {
    throw invalid(`ttlSeconds must be a positive integer (default ${DEFAULT_WORKLOAD_CERT_TTL_MS / 1000}, at most ${MAX_WORKLOAD_CERT_TTL_MS / 1000}: longer is capped)`);
  }
  return { csr: o.csr, ttlSeconds: typeof ttl === 'number' ? ttl : undefined };
}

/** Everything the CSR asks to be named, as OpenSSL prints SANs (`URI:...`, `DNS:...`). */
function askedNames(csr: VerifiedCsr): string[] {
  return [...csr.requestedUris.map((u) => `URI:${u}`), ...csr.requestedOtherNames];
}

/**
 * The identity to sign for, from the principal and the CSR. A join token scoped to namespace
 * N and service account S gets only `spiffe://<trust domain>/ns/N/sa/S`, and only for a CSR
 * that asks for exactly that (403 otherwise, naming both). The admin gets the one SPIFFE ID
 * the CSR asks for, in the CA's trust domain.
 */
function identityFor(principal: Principal, csr: VerifiedCsr, trustDomain: string): string {
  const asked = askedNames(csr);
  if (asked.length === 0) {
    throw invalidCsr('the CSR names no identity: put the SPIFFE ID spiffe://<trust domain>/ns/<namespace>/sa/<service account> in it as its only URI SAN (createCsr of @meshwork/identity does)');
  }
  if (principal.kind === 'join') {
    const allowed = formatSpiffeId({ trustDomain, namespace: principal.namespace, serviceAccount: principal.serviceAccount });
    if (asked.length !== 1 || csr.requestedUris[0] !== allowed) {
      throw new ApiError(403, 'forbidden', `a join token scoped to namespace "${principal.namespace}", service account "${principal.serviceAccount}" may get a certificate only for ${allowed}; the CSR asks for ${asked.join(', ')}`, {
        scope: { namespace: principal.namespace, serviceAccount: principal.serviceAccount },
        allowed,
        requested: asked,
      });
    }
    return allowed;
  }
  // The admin may sign any identity of the trust domain, one per certificate.
  if (asked.length !== 1 || csr.requestedUris.length !== 1) {
    throw invalidCsr(`a workload certificate carries exactly one name, its SPIFFE ID, as its only URI SAN; the CSR asks for ${asked.join(', ')}`, { requested: asked });
  }
  const id = csr.requestedUris[0]!;
  const parts = tryParseSpiffeId(id);
  if (!parts) throw invalidCsr(`the CSR asks for ${id}, which is not a SPIFFE ID of the form spiffe://<trust domain>/ns/<namespace>/sa/<service account>`, { requested: asked });
  if (parts.trustDomain !== trustDomain) {
    throw new ApiError(403, 'forbidden', `this control service's CA signs identities of trust domain ${trustDomain} only; the CSR asks for ${id}`, { trustDomain, requested: asked });
  }
  return id;
}

/** `POST /v1/certificates:sign`: WireSignRequest → WireSignResponse. */
export async function signCertificate(ca: CertificateAuthority, body: Buffer, principal: Principal): Promise<JsonReply> {
  const request = parseSignRequest(body);
  let csr: VerifiedCsr;
  try {
    csr = await verifyCsr(request.csr);
  } catch (e) {
    // identity's messages say what is wrong with the CSR and hold no key material.
    if (e instanceof IdentityError) throw invalidCsr(e.message);
    throw e;
  }
  const spiffeId = identityFor(principal, csr, ca.trustDomain);
  const ttlMs = request.ttlSeconds === undefined ? DEFAULT_WORKLOAD_CERT_TTL_MS : Math.min(request.ttlSeconds * 1000, MAX_WORKLOAD_CERT_TTL_MS);
  const signed = await ca.sign(request.csr, { spiffeId, ttlMs });
  // A plug-in cert-chain.pem runs up to the root (Istio's layout); the wire carries the
  // certificate and its intermediates, and the roots apart, in trustBundle.
  const roots = new Set(ca.trustBundle.roots.map((r) => r.fingerprint256));
  const reply: WireSignResponse = {
    certChain: splitPem(signed.certChainPem).filter((pem, i) => i === 0 || !roots.has(new X509Certificate(pem).fingerprint256)),
    trustBundle: [...signed.rootsPem],
    notAfter: signed.notAfter.toISOString(),
  };
  return { status: 200, body: reply };
}

/** `GET /v1/trust-bundle`: the roots workloads and clients trust. */
export function trustBundleReply(ca: CertificateAuthority): JsonReply {
  return { status: 200, body: { trustBundle: [...ca.rootsPem] } };
}
