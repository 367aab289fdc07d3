import { describe, expect, it } from 'vitest';
import { failureReply, localReplyError, outcomeOfError } from '../src/failure.js';

describe('failures as Envoy reports them', () => {
  it('classifies network errors', () => {
    expect(outcomeOfError({ code: 'ECONNREFUSED' }, false, false)).toEqual({ kind: 'failure', reason: 'connect-failure', beforeRequestSent: true });
    expect(outcomeOfError({ code: 'ECONNRESET' }, true, false)).toEqual({ kind: 'failure', reason: 'reset', beforeRequestSent: false });
    expect(outcomeOfError({}, true, true)).toEqual({ kind: 'failure', reason: 'timeout', beforeRequestSent: false });
  });
  it('maps the last outcome to the local reply, with URX after retries', () => {
    expect(failureReply({ kind: 'failure', reason: 'connect-failure', beforeRequestSent: true }, false)).toEqual({ status: 503, body: 'upstream connect error or disconnect/reset before headers. reset reason: connection failure', flags: ['UF'] });
    expect(failureReply({ kind: 'failure', reason: 'connect-failure', beforeRequestSent: true }, true)).toEqual({ status: 503, body: 'upstream connect error or disconnect/reset before headers. retried and the latest reset reason: connection failure', flags: ['UF', 'URX'] });
    expect(failureReply({ kind: 'failure', reason: 'timeout', beforeRequestSent: false }, true)).toMatchObject({ status: 504, flags: ['UT', 'URX'] });
    expect(failureReply({ kind: 'failure', reason: 'reset', beforeRequestSent: false }, false)).toMatchObject({ status: 503, flags: ['UC'] });
  });
  it('turns a local reply into a MeshError with a gRPC code', () => {
    expect(localReplyError(504, 'upstream request timeout', ['UT'])).toMatchObject({ code: 4, reason: 'ut', flag: 'UT', status: 504 });
    expect(localReplyError(503, 'no healthy upstream', ['UH'])).toMatchObject({ code: 14, flag: 'UH' });
    expect(localReplyError(404, '', ['NR'])).toMatchObject({ code: 5 });
  });
});
