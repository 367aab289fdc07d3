/**
 * `meshwork` command line. Exit codes: 0 success (analyze: clean), 1 analyze found
 * warnings, 2 unusable input or configuration Istio would reject, 3 the control service
 * could not be reached or refused the request.
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { analyzeCommand } from './analyze.js';
import { applyCommand } from './apply.js';
import { ControlError, reportControlError } from './client.js';
import { controlCommand } from './control.js';
import { deleteCommand } from './delete.js';
import { explainCommand } from './explain.js';
import { demoCommand } from './demo.js';
import { getCommand } from './get.js';
import { statusCommand } from './status.js';
import { tokenCommand } from './token.js';
import { EXIT, UsageError, type Io } from './io.js';

const USAGE = `meshwork <command> [options]

Commands:
  analyze (-f <path>... | --control) [--json]
      Validate Istio YAML as Istio's API server and webhook do, and analyze it as
      istioctl analyze does. Exit 2: invalid input; 1: findings; 0: clean.
  explain outbound (-f <path>... | --control) --namespace <ns> [--labels k=v,...]
                   [--service-account <sa>] [-H 'name: value']... '<METHOD> <URL>' [--json]
      What a client's request does: route, destinations, retries, timeout, fault, mirror.
  explain inbound (-f <path>... | --control) --namespace <ns> --labels k=v,... --port <n>
                  [--principal <id> | --plaintext] [--source-ip <ip>] [--jwt-claims '<json>']
                  [-H 'name: value']... '<METHOD> <PATH>' [--json]
      What a server does with a request: mTLS mode, connection, authorization decision.
  demo
      Analyze the Bookinfo samples and explain a few requests.

The control service:
  control [--data-dir <dir>] [--port <n>] [--host <addr>] [--admin-token-file <file>]
          [--ca-certs-dir <dir>] [--hosts a,b] [--trust-domain <td>] [--insecure] [--json]
      Run the control service (store, CA, snapshots, API v1 over HTTPS) until SIGINT or
      SIGTERM. Defaults: --data-dir $MESHWORK_DATA_DIR, else ./meshwork-data; --port 15012;
      --host 127.0.0.1. Prints the URL, the CA bundle, where the admin token is and the next
      commands; --json prints {url, port, rootCertPath, adminTokenPath, dataDir} on one line.

Against a control service:
  apply -f <path>... [--json]
      Apply every file in one all-or-nothing batch; errors as file:line:col.
  delete -f <path>... [--json]
      Delete the objects the files name; "not found" is reported, not an error.
  get <kind> [name] [-n <ns> | -A] [-o yaml|json|name] [--json]
      List or show resources (vs, dr, se, gw, pa, ap, ra, svc, ...) or workloads.
  token create --namespace <ns> --service-account <sa> [--ttl 24h] [--json]
      Create a join token; only the token goes to stdout.
  token revoke <hash> [--json]
      Revoke a join token by the hash token create printed.
  status [-n <ns>] [--json]
      Per workload: SYNCED, STALE, NACKED or NOT SENT, like istioctl proxy-status.

Connection options (apply, delete, get, token, status, and analyze/explain --control):
  --control-url <url>       default $MESHWORK_CONTROL_URL, else https://127.0.0.1:15012
  --token-file <file>       bearer token file (admin, or a join token for reads);
                            default <data-dir>/admin-token, else $MESHWORK_ADMIN_TOKEN (the token)
  --ca-file <pem>           CA bundle trusted for https;
                            default <data-dir>/ca/root-cert.pem, else $MESHWORK_CONTROL_CA (a path)
  --data-dir <dir>          a local control service's data directory (token and CA)
  --request-timeout <dur>   per request, default 30s

Exit codes: 0 ok, 1 analyze findings, 2 usage or invalid input (control: could not start),
            3 control service unreachable or refused the request.

help | --version
`;

export function processIo(): Io {
  return {
    out: (s) => process.stdout.write(s),
    err: (s) => process.stderr.write(s),
  };
}

export function parse<T extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError((e as Error).message.split('\n')[0]!);
  }
}

export async function main(argv: string[], io: Io = processIo()): Promise<number> {
  const [cmd, ...rest] = argv;
  try {
    switch (cmd) {
      case undefined:
      case 'help':
      case '--help':
      case '-h':
        io.out(USAGE);
        return 0;
      case '--version':
      case 'version': {
        const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
        io.out(`${pkg.version}\n`);
        return 0;
      }
      case 'analyze':
        return await analyzeCommand(rest, io);
      case 'explain':
        return await explainCommand(rest, io);
      case 'demo':
        return await demoCommand(rest, io);
      case 'control':
        return await controlCommand(rest, io);
      case 'apply':
        return await applyCommand(rest, io);
      case 'delete':
        return await deleteCommand(rest, io);
      case 'get':
        return await getCommand(rest, io);
      case 'token':
        return await tokenCommand(rest, io);
      case 'status':
        return await statusCommand(rest, io);
      default:
        throw new UsageError(`unknown command "${cmd}"; run "meshwork help"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`meshwork: ${e.message}\n`);
      return EXIT.invalid;
    }
    if (e instanceof ControlError) return reportControlError(e, io, false);
    throw e;
  }
}
