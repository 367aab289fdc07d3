import { describe, expect, it } from 'vitest';
import {
  canonicalService, decodePeerMetadata, decodeStruct, encodePeerMetadata, encodeStruct, localWorkload, PEER_METADATA_HEADER, PEER_METADATA_ID_HEADER,
  isPeerMetadataHeader, peerMetadataHeaders, peerMetadataId, StructDecodeError, takePeerMetadata, withoutPeerMetadata, workloadMetadataFromStruct, workloadMetadataToStruct,
} from '../src/index.js';

/**
 * A real header from an Istio 1.9 ingress gateway (Envoy debug log quoted in a public blog post
 * about x-forwarded-client-cert): the whole node metadata of that era, incl. a PLATFORM_METADATA
 * struct and an empty APP_CONTAINERS string.
 */
const ISTIO_19_GATEWAY =
  'ChQKDkFQUF9DT05UQUlORVJTEgIaAAoaCgpDTFVTVEVSX0lEEgwaCkt1YmVybmV0ZXMKHAoNSVNUSU9fVkVSU0lPThILGgkxLjkuOC1hbTEKvwMKBkxBQkVMUxK0AyqxAwodCgNhcHASFhoUaXN0aW8taW5ncmVzc2dhdGV3YXkKEwoFY2hhcnQSChoIZ2F0ZXdheXMKFAoIaGVyaXRhZ2USCBoGVGlsbGVyCjYKKWluc3RhbGwub3BlcmF0b3IuaXN0aW8uaW8vb3duaW5nLXJlc291cmNlEgkaB3Vua25vd24KGQoFaXN0aW8SEBoOaW5ncmVzc2dhdGV3YXkKGQoMaXN0aW8uaW8vcmV2EgkaB2RlZmF1bHQKMAobb3BlcmF0b3IuaXN0aW8uaW8vY29tcG9uZW50EhEaD0luZ3Jlc3NHYXRld2F5cwohChFwb2QtdGVtcGxhdGUtaGFzaBIMGgo2OTQ5Y2RkNjVjChIKB3JlbGVhc2USBxoFaXN0aW8KOQofc2VydmljZS5pc3Rpby5pby9jYW5vbmljYWwtbmFtZRIWGhRpc3Rpby1pbmdyZXNzZ2F0ZXdheQovCiNzZXJ2aWNlLmlzdGlvLmlvL2Nhbm9uaWNhbC1yZXZpc2lvbhIIGgZsYXRlc3QKIgoXc2lkZWNhci5pc3Rpby5pby9pbmplY3QSBxoFZmFsc2UKLwoETkFNRRInGiVpc3Rpby1pbmdyZXNzZ2F0ZXdheS02OTQ5Y2RkNjVjLW00amI2ChsKCU5BTUVTUEFDRRIOGgxpc3Rpby1zeXN0ZW0KXQoFT1dORVISVBpSa3ViZXJuZXRlczovL2FwaXMvYXBwcy92MS9uYW1lc3BhY2VzL2lzdGlvLXN5c3RlbS9kZXBsb3ltZW50cy9pc3Rpby1pbmdyZXNzZ2F0ZXdheQoXChFQTEFURk9STV9NRVRBREFUQRICKgAKJwoNV09SS0xPQURfTkFNRRIWGhRpc3Rpby1pbmdyZXNzZ2F0ZXdheQ==';

const reviews = localWorkload({
  namespace: 'default', labels: { app: 'reviews', version: 'v2', 'pod-template-hash': 'x' }, name: 'reviews-v2', instanceName: 'reviews-v2-7d79d5bd5d-abcde',
  clusterId: 'Kubernetes', workloadType: 'deployment',
});

describe('google.protobuf.Struct codec', () => {
  it('writes the wire format byte for byte', () => {
    // Struct{fields: {"a": Value{string_value: "b"}}}: entry (0a 08) = key (0a 01 'a') + value (12 03 = 1a 01 'b').
    expect([...encodeStruct({ a: 'b' })]).toEqual([0x0a, 0x08, 0x0a, 0x01, 0x61, 0x12, 0x03, 0x1a, 0x01, 0x62]);
    // Deterministic: keys sorted, nested struct (tag 0x2a), bool (0x20), number (0x11), null (0x08), list (0x32).
    const v = { z: true, a: 1.5, m: null, l: ['x', { k: 'v' }], s: { y: '', b: 'c' } };
    const bytes = encodeStruct(v);
    expect(decodeStruct(bytes)).toEqual({ a: 1.5, l: ['x', { k: 'v' }], m: null, s: { b: 'c', y: '' }, z: true });
    expect(Buffer.from(encodeStruct({ z: 1, a: 2 })).equals(Buffer.from(encodeStruct({ a: 2, z: 1 })))).toBe(true);
  });

  it('skips unknown fields and wire types it does not need', () => {
    // A field 7 varint and a field 8 fixed32 before the entry.
    const extra = Buffer.from([0x38, 0x96, 0x01, 0x45, 1, 2, 3, 4, ...encodeStruct({ a: 'b' })]);
    expect(decodeStruct(extra)).toEqual({ a: 'b' });
  });

  it('rejects truncated, oversized, too deep, too wide and non-UTF-8 input', () => {
    const ok = encodeStruct({ LABELS: { app: 'x' } });
    expect(() => decodeStruct(ok.subarray(0, ok.length - 2))).toThrow(StructDecodeError);
    expect(() => decodeStruct(new Uint8Array(20_000))).toThrow(/limit/);
    let deep: Record<string, unknown> = { v: 'x' };
    for (let i = 0; i < 20; i++) deep = { d: deep };
    expect(() => decodeStruct(encodeStruct(deep as never))).toThrow(/deeply/);
    const wide = Object.fromEntries(Array.from({ length: 2000 }, (_, i) => [`k${i}`, 'v']));
    expect(() => decodeStruct(encodeStruct(wide), { maxBytes: 1 << 20 })).toThrow(/too many/);
    expect(() => decodeStruct(Uint8Array.from([0x0a, 0x05, 0x0a, 0x03, 0xff, 0xfe, 0xfd]))).toThrow(/UTF-8/);
    expect(() => decodeStruct(Uint8Array.from([0x0a, 0x7f]))).toThrow(/beyond/);
    expect(() => decodeStruct(Uint8Array.from([0x0b]))).toThrow(/wire type/);
  });

  it('never throws anything but StructDecodeError on random input', () => {
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 16) & 0xff;
    for (let n = 0; n < 3000; n++) {
      const b = Uint8Array.from({ length: rnd() % 64 }, rnd);
      try {
        decodeStruct(b);
      } catch (e) {
        expect(e).toBeInstanceOf(StructDecodeError);
      }
    }
  });
});

describe('peer metadata (x-envoy-peer-metadata)', () => {
  it('builds the local metadata with the injector\'s canonical labels', () => {
    expect(reviews).toMatchObject({ workloadName: 'reviews-v2', canonicalService: 'reviews', canonicalRevision: 'v2', app: 'reviews', version: 'v2', appLabel: 'reviews' });
    expect(canonicalService({}, 'ratings-v1')).toEqual({ name: 'ratings-v1', revision: 'latest' });
    expect(canonicalService({ 'app.kubernetes.io/name': 'ui', app: 'x', 'app.kubernetes.io/version': '2.0' }, 'w')).toEqual({ name: 'ui', revision: '2.0' });
    expect(canonicalService({ 'service.istio.io/canonical-name': `-${'a'.repeat(70)}` }, 'w').name).toBe('a'.repeat(62));
  });

  it('encodes the fields Istio sends (metadata_object.cc: convertWorkloadMetadataToStruct)', () => {
    const fields = decodeStruct(Buffer.from(encodePeerMetadata(reviews), 'base64'));
    expect(fields).toEqual({
      CLUSTER_ID: 'Kubernetes',
      LABELS: { app: 'reviews', 'service.istio.io/canonical-name': 'reviews', 'service.istio.io/canonical-revision': 'v2', version: 'v2' },
      NAME: 'reviews-v2-7d79d5bd5d-abcde',
      NAMESPACE: 'default',
      OWNER: 'kubernetes://apis/apps/v1/namespaces/default/deployments/reviews-v2',
      WORKLOAD_NAME: 'reviews-v2',
    });
    // Keys in byte order, as protobuf's deterministic serialization writes a map.
    expect(Object.keys(fields)).toEqual(['CLUSTER_ID', 'LABELS', 'NAME', 'NAMESPACE', 'OWNER', 'WORKLOAD_NAME']);
    expect(encodePeerMetadata(reviews)).toBe(encodePeerMetadata(reviews)); // cached per object
    expect(workloadMetadataToStruct({}).LABELS).toEqual({}); // LABELS is always present
  });

  it('round-trips through the header', () => {
    const peer = decodePeerMetadata(encodePeerMetadata(reviews))!;
    expect(peer).toEqual({
      instanceName: 'reviews-v2-7d79d5bd5d-abcde', namespace: 'default', workloadName: 'reviews-v2', clusterId: 'Kubernetes', identity: undefined,
      canonicalService: 'reviews', canonicalRevision: 'v2', app: 'reviews', version: 'v2', workloadType: 'deployment', region: undefined, zone: undefined, labels: undefined,
    });
    expect(Object.isFrozen(peer)).toBe(true);
  });

  it('decodes a header sent by a real Istio sidecar (whole node metadata)', () => {
    expect(decodePeerMetadata(ISTIO_19_GATEWAY)).toMatchObject({
      instanceName: 'istio-ingressgateway-6949cdd65c-m4jb6', namespace: 'istio-system', workloadName: 'istio-ingressgateway', clusterId: 'Kubernetes',
      canonicalService: 'istio-ingressgateway', canonicalRevision: 'latest', app: 'istio-ingressgateway', version: undefined, workloadType: 'deployment',
    });
    const fields = decodeStruct(Buffer.from(ISTIO_19_GATEWAY, 'base64'));
    expect(fields.PLATFORM_METADATA).toEqual({});
    expect(fields.ISTIO_VERSION).toBe('1.9.8-am1');
    // Additional labels are kept only when asked for (PILOT_MX_ADDITIONAL_LABELS).
    expect(workloadMetadataFromStruct(fields, new Set(['istio.io/rev'])).labels).toEqual({ 'istio.io/rev': 'default' });
  });

  it('prefers app.kubernetes.io/name and /version over app and version', () => {
    const v = Buffer.from(encodeStruct({ LABELS: { app: 'a', 'app.kubernetes.io/name': 'qualified', version: 'v1', 'app.kubernetes.io/version': '1.0' } })).toString('base64');
    expect(decodePeerMetadata(v)).toMatchObject({ app: 'qualified', version: '1.0' });
  });

  it('accepts unpadded base64 and returns the same object for the same value', () => {
    const padded = encodePeerMetadata(reviews);
    const unpadded = padded.replace(/=+$/, '');
    expect(decodePeerMetadata(unpadded)).toMatchObject({ workloadName: 'reviews-v2' });
    expect(decodePeerMetadata(padded)).toBe(decodePeerMetadata(padded));
  });

  it('ignores missing, oversized and malformed values', () => {
    expect(decodePeerMetadata(undefined)).toBeUndefined();
    expect(decodePeerMetadata('')).toBeUndefined();
    expect(decodePeerMetadata('not base64!')).toBeUndefined();
    expect(decodePeerMetadata('AAAA')).toBeUndefined(); // a zero tag
    expect(decodePeerMetadata('A'.repeat(9000))).toBeUndefined();
    expect(decodePeerMetadata(encodePeerMetadata(reviews), { maxHeaderLength: 10 })).toBeUndefined();
  });

  it('keeps its cache bounded', () => {
    for (let i = 0; i < 3000; i++) decodePeerMetadata(Buffer.from(encodeStruct({ NAME: `p${i}` })).toString('base64'));
    expect(decodePeerMetadata(Buffer.from(encodeStruct({ NAME: 'p2999' })).toString('base64'))).toMatchObject({ instanceName: 'p2999' });
  });

  it('adds the two headers, and strips them where they are read', () => {
    const id = peerMetadataId({ ip: '10.1.2.3', instanceName: 'reviews-v2-7d79d5bd5d-abcde', namespace: 'default' });
    expect(id).toBe('sidecar~10.1.2.3~reviews-v2-7d79d5bd5d-abcde.default~default.svc.cluster.local');
    const headers: Record<string, string | string[] | undefined> = { host: 'reviews:9080', ...Object.fromEntries(peerMetadataHeaders(reviews, id)) };
    expect(Object.keys(headers)).toEqual(['host', PEER_METADATA_ID_HEADER, PEER_METADATA_HEADER]);
    const got = takePeerMetadata(headers);
    expect(got).toMatchObject({ present: true, id, peer: { workloadName: 'reviews-v2' } });
    expect(headers).toEqual({ host: 'reviews:9080' });
    expect(takePeerMetadata({ host: 'x' })).toEqual({ peer: undefined, id: undefined, present: false });
  });

  it('caches by the peer id as Envoy does, checked against the value it was decoded from', () => {
    const id = 'sidecar~10.9.9.9~ratings-v1-abc.default~default.svc.cluster.local';
    const ratings = Buffer.from(encodeStruct({ NAME: 'ratings-v1-abc', WORKLOAD_NAME: 'ratings-v1' })).toString('base64');
    const first = decodePeerMetadata(ratings, {}, id)!;
    expect(first).toMatchObject({ workloadName: 'ratings-v1' });
    // A fresh copy of the same text (as each request brings) answers from the cache.
    expect(decodePeerMetadata(Buffer.from(ratings).toString('latin1'), {}, id)).toBe(first);
    expect(takePeerMetadata({ [PEER_METADATA_ID_HEADER]: id, [PEER_METADATA_HEADER]: ratings }).peer).toBe(first);
    // The same id with other metadata (a certificate arrived, or two workloads in one process) is decoded again.
    const other = Buffer.from(encodeStruct({ WORKLOAD_NAME: 'something-else' })).toString('base64');
    const second = decodePeerMetadata(other, {}, id)!;
    expect(second).toMatchObject({ workloadName: 'something-else' });
    expect(decodePeerMetadata(other, {}, id)).toBe(second);
    // The same value under another id, or without one, is the same object.
    expect(decodePeerMetadata(other, {}, `${id}-2`)).toBe(second);
    expect(decodePeerMetadata(other)).toBe(second);
    expect(decodePeerMetadata('not base64!', {}, 'sidecar~bad')).toBeUndefined();
    expect(decodePeerMetadata(ratings, { maxHeaderLength: 10 }, id)).toBeUndefined();
    // With additional labels asked for, nothing is cached (each config decodes its own labels).
    expect(decodePeerMetadata(other, { additionalLabels: new Set(['x']) }, id)).not.toBe(second);
  });

  it('keeps its id cache bounded', () => {
    const v = Buffer.from(encodeStruct({ NAME: 'bounded' })).toString('base64');
    for (let i = 0; i < 3000; i++) decodePeerMetadata(v, {}, `sidecar~id-${i}`);
    expect(decodePeerMetadata(v, {}, 'sidecar~id-2999')).toMatchObject({ instanceName: 'bounded' });
  });

  it('recognises the exchange header names in any case, as strings and as raw bytes', () => {
    for (const n of [PEER_METADATA_HEADER, PEER_METADATA_ID_HEADER, 'X-Envoy-Peer-Metadata', 'X-ENVOY-PEER-METADATA-ID']) {
      expect(isPeerMetadataHeader(n)).toBe(true);
      expect(isPeerMetadataHeader(Buffer.from(n))).toBe(true);
    }
    for (const n of ['x-envoy-peer-metadatb', 'x-envoy-peer-metadata-ix', 'x-envoy-peer-metadat', 'content-type', 'x_envoy_peer_metadata', '']) {
      expect(isPeerMetadataHeader(n)).toBe(false);
      expect(isPeerMetadataHeader(Buffer.from(n))).toBe(false);
    }
    const raw = ['Host', 'a', 'X-Envoy-Peer-Metadata-Id', 'id', 'x-envoy-peer-metadata', 'v', 'x-other', 'b'].map((s) => Buffer.from(s));
    expect(withoutPeerMetadata(raw).map(String)).toEqual(['Host', 'a', 'x-other', 'b']);
  });
});
