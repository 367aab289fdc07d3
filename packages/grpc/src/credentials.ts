/**
 * Channel credentials that do per endpoint what the policy engine decided for it: Istio
 * mutual TLS with the workload certificate and secure naming, the DestinationRule's SIMPLE or
 * MUTUAL origination, or plaintext (auto-mTLS to an endpoint that does not take mTLS, or
 * DISABLE). The TLS options come from core's `connectOptions`, the same function the fetch
 * data plane connects with; the certificate is read from the identity when a connection is
 * made, so a rotated certificate is used by every new connection.
 *
 * grpc-js creates one secure connector per subchannel and gives it the subchannel's options;
 * the load balancer (balancer.ts) puts the endpoint's TLS decision there, so one channel can
 * hold mTLS and plaintext subchannels side by side.
 */
import tls from 'node:tls';
import type { Socket } from 'node:net';
import { CallCredentials, ChannelCredentials, type ChannelOptions } from '@grpc/grpc-js';
import { connectOptions, type Mesh } from '@meshwork/core';
import type { UpstreamTls } from '@meshwork/policy';

/** Subchannel option: the id of the endpoint's TLS decision (0: plaintext). */
export const TLS_SUBCHANNEL_OPTION = 'grpc.meshwork.tls_id';
/** Subchannel option: the destination's host name (SNI default, error messages). */
export const HOST_SUBCHANNEL_OPTION = 'grpc.meshwork.host';

// Subchannel options must stay plain values: TLS decisions travel as ids. Each decision object
// lives as long as the snapshot that made it (Cluster.tlsFor caches it per endpoint).
const decisions = new Map<number, WeakRef<UpstreamTls>>();
const idsOf = new WeakMap<UpstreamTls, number>();
let nextId = 1;

/** The id of a TLS decision, 0 for plaintext. */
export function tlsDecisionId(t: UpstreamTls): number {
  if (t.mode === 'plaintext') return 0;
  let id = idsOf.get(t);
  if (id === undefined) {
    id = nextId++;
    idsOf.set(t, id);
    decisions.set(id, new WeakRef(t));
    // Drop the ids of decisions whose snapshot is gone (cheap: runs when a new one appears).
    if (decisions.size > 256) for (const [k, ref] of decisions) if (!ref.deref()) decisions.delete(k);
  }
  return id;
}

/** Connection credentials of a mesh channel; `createMeshClient` uses them by default. */
export class MeshChannelCredentials extends ChannelCredentials {
  constructor(private readonly mesh: Mesh) {
    super();
  }

  // Plaintext and TLS subchannels share the channel, so the channel as a whole is not "secure"
  // to grpc-js (it only uses this to refuse composing call credentials onto it).
  _isSecure(): boolean {
    return false;
  }

  _equals(other: ChannelCredentials): boolean {
    return other === this;
  }

  _createSecureConnector(_target: unknown, options: ChannelOptions, callCredentials?: CallCredentials) {
    const creds = callCredentials ?? CallCredentials.createEmpty();
    const id = Number(options[TLS_SUBCHANNEL_OPTION] ?? 0);
    const host = String(options[HOST_SUBCHANNEL_OPTION] ?? '');
    const mesh = this.mesh;
    return {
      connect(socket: Socket): Promise<{ socket: Socket; secure: boolean }> {
        if (id === 0) return Promise.resolve({ socket, secure: false });
        const decision = decisions.get(id)?.deref();
        if (!decision) return Promise.reject(new Error(`meshwork: the TLS settings for ${host} are gone (the configuration changed); reconnecting`));
        let opts: tls.ConnectionOptions | undefined;
        try {
          opts = connectOptions(decision, mesh.identity, host);
        } catch (e) {
          return Promise.reject(e);
        }
        if (!opts) return Promise.resolve({ socket, secure: false });
        return new Promise((resolve, reject) => {
          // gRPC speaks HTTP/2: h2 is the only protocol to offer (a mesh server selects it).
          const s = tls.connect({ ...opts, socket, ALPNProtocols: ['h2'] }, () => {
            if (opts.rejectUnauthorized !== false && !s.authorized) {
              reject(s.authorizationError ?? new Error('TLS handshake not authorized'));
              s.destroy();
              return;
            }
            resolve({ socket: s, secure: true });
          });
          s.once('error', reject);
        });
      },
      waitForReady: () => Promise.resolve(),
      getCallCredentials: () => creds,
      destroy() {},
    };
  }
}
