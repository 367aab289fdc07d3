/**
 * `meshwork token create` and `meshwork token revoke`: join tokens (admin only). In human
 * mode `create` prints only the token on stdout, so `TOKEN=$(meshwork token create ...)`
 * works; what it is for and how to revoke it go to stderr.
 */
import { hashToken, JOIN_TOKEN_PREFIX } from '@meshwork/control';
import { parseDuration } from '@meshwork/policy';
import { CONNECTION_OPTIONS, withControl } from './client.js';
import { parse } from './main.js';
import { EXIT, UsageError, type Io } from './io.js';

interface CreatedToken {
  token: string;
  hash: string;
  namespace: string;
  serviceAccount: string;
  expiresAt: string;
}

export async function tokenCommand(args: string[], io: Io): Promise<number> {
  const [sub, ...rest] = args;
  if (sub === 'create') return createCommand(rest, io);
  if (sub === 'revoke') return revokeCommand(rest, io);
  throw new UsageError('token needs "create" or "revoke"');
}

/** `--ttl` as a Go duration (`24h`, `90m`, `3600s`), in whole seconds. */
export function ttlSeconds(raw: string): number {
  const ms = parseDuration(raw);
  if (ms === undefined || ms <= 0) throw new UsageError(`--ttl: "${raw}" is not a positive duration (e.g. 24h, 90m, 3600s)`);
  if (ms % 1000 !== 0) throw new UsageError(`--ttl: "${raw}" is not a whole number of seconds`);
  return ms / 1000;
}

async function createCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, {
    namespace: { type: 'string', short: 'n' },
    'service-account': { type: 'string' },
    ttl: { type: 'string' },
    json: { type: 'boolean' },
    ...CONNECTION_OPTIONS,
  });
  if (positionals.length > 0) throw new UsageError(`token create takes no arguments; got "${positionals[0]}"`);
  if (!values.namespace) throw new UsageError('token create needs --namespace <ns>');
  if (!values['service-account']) throw new UsageError('token create needs --service-account <sa>');
  const body = { namespace: values.namespace, serviceAccount: values['service-account'], ...(values.ttl !== undefined ? { ttlSeconds: ttlSeconds(values.ttl) } : {}) };
  return withControl(values, io, async (client) => {
    const t = await client.request<CreatedToken>('POST', '/v1/tokens', { body: JSON.stringify(body) });
    if (values.json) {
      io.out(JSON.stringify(t, null, 2) + '\n');
      return EXIT.ok;
    }
    io.out(`${t.token}\n`);
    io.err(`join token for namespace "${t.namespace}", service account "${t.serviceAccount}"; expires ${t.expiresAt}; shown only this once\n`);
    io.err(`revoke it with: meshwork token revoke ${t.hash}\n`);
    return EXIT.ok;
  });
}

async function revokeCommand(args: string[], io: Io): Promise<number> {
  const { values, positionals } = parse(args, { json: { type: 'boolean' }, ...CONNECTION_OPTIONS });
  const [arg, extra] = positionals;
  if (!arg || extra !== undefined) throw new UsageError('token revoke takes one argument: the hash printed by token create');
  // Given the token itself, revoke by its hash: the token is never sent.
  const hash = arg.startsWith(JOIN_TOKEN_PREFIX) ? hashToken(arg) : arg;
  if (!/^[0-9a-f]{64}$/.test(hash)) throw new UsageError('token revoke: the argument is not a token hash (64 lower-case hex characters, printed by token create) nor a join token');
  return withControl(values, io, async (client) => {
    const r = await client.request<{ hash: string; status: string }>('DELETE', `/v1/tokens/${hash}`);
    io.out(values.json ? JSON.stringify(r, null, 2) + '\n' : `join token ${r.hash} revoked\n`);
    return EXIT.ok;
  });
}
