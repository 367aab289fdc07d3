import { describe, expect, it } from 'vitest';
import { meshworkMiddleware } from '../src/index.js';

describe('meshworkMiddleware options', () => {
  it('an unknown option is a startup error naming the valid ones', () => {
    expect(() => meshworkMiddleware({ confgYaml: '' } as never)).toThrow(/unknown option "confgYaml".*configYaml/);
  });
  it('a bad configuration is rejected when the middleware is made, with the analyzer\'s message', () => {
    expect(() => meshworkMiddleware({ configYaml: 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: {name: x, namespace: y}\nspec: {mtls: {mode: SOMETIMES}}\n' })).toThrow(/SOMETIMES|mode/);
  });
});
