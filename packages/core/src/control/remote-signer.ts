/**
 * The control service's CA as a CertificateSigner: identity's rotating source makes the key
 * and the CSR, this sends the CSR (never the key) to `POST /v1/certificates:sign`.
 */
import { joinPem, type CertificateSigner, type SignerResult, type SignRequest } from '@meshwork/identity';
import type { WireSignRequest, WireSignResponse } from '@meshwork/policy';
import { callControl, replyMessage, type ControlEndpoint } from './http.js';

export function remoteSigner(e: ControlEndpoint): CertificateSigner {
  return {
    async sign(csrPem: string, request: SignRequest): Promise<SignerResult> {
      const body: WireSignRequest = { csr: csrPem };
      if (request.ttlMs !== undefined) body.ttlSeconds = Math.floor(request.ttlMs / 1000);
      const r = await callControl(e, 'POST', '/v1/certificates:sign', body);
      if (r.status !== 200) throw new Error(`the control service did not sign the certificate for ${request.spiffeId}: ${replyMessage(r)}`);
      const s = r.body as WireSignResponse;
      if (!Array.isArray(s?.certChain) || s.certChain.length === 0 || !Array.isArray(s.trustBundle)) throw new Error('the control service answered the signing request without a certificate chain');
      return { certChainPem: joinPem(s.certChain), rootsPem: s.trustBundle };
    },
  };
}
