import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { meshworkPlugin } from '../src/index.js';

describe('meshworkPlugin options', () => {
  it('an unknown option fails registration with a message naming the valid ones', async () => {
    const app = Fastify();
    app.register(meshworkPlugin, { confgYaml: '' } as never);
    await expect(app.ready()).rejects.toThrow(/unknown option "confgYaml".*configYaml/);
    await app.close();
  });
  it('Fastify\'s own registration options (prefix) are not ours to refuse', async () => {
    const app = Fastify();
    app.register(meshworkPlugin, { prefix: '/api', workload: { namespace: 'default', labels: {} } } as never);
    await expect(app.ready()).resolves.toBeDefined();
    await app.close();
  });
});
