/** Request attributes authorization reads, derived once per request (decide/inbound.ts). */
import { describe, expect, it } from 'vitest';
import { compileSnapshot } from '../src/compile/snapshot.js';
import { inboundAttributes } from '../src/decide/inbound.js';

const snap = compileSnapshot([], { namespace: 'foo', labels: {} });
const remote = (xff: string | undefined, numTrustedProxies: number) =>
  inboundAttributes(snap, { port: 80, method: 'GET', target: '/', headers: xff === undefined ? {} : { 'x-forwarded-for': xff }, sourceIp: '10.9.9.9', numTrustedProxies }).attrs.remoteIp;

describe('remote.ip from X-Forwarded-For', () => {
  it('is the trusted-th non-empty hop from the right, else the peer', () => {
    expect(remote(' 1.1.1.1 , , 2.2.2.2 ', 1)).toBe('2.2.2.2');
    expect(remote(' 1.1.1.1 , , 2.2.2.2 ', 2)).toBe('1.1.1.1');
    expect(remote(' 1.1.1.1 , , 2.2.2.2 ', 3)).toBe('10.9.9.9');
    expect(remote('1.1.1.1', 0)).toBe('10.9.9.9');
    expect(remote(undefined, 1)).toBe('10.9.9.9');
    expect(remote(',,', 1)).toBe('10.9.9.9');
  });
});
