/**
 * `meshwork` command line. Exit codes: 0 success (analyze: clean), 1 analyze found
 * warnings, 2 unusable input or configuration Istio would reject.
 */
import { readFileSync } from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { analyzeCommand } from './analyze.js';
import { explainCommand } from './explain.js';
import { demoCommand } from './demo.js';
import { UsageError, type Io } from './io.js';

const USAGE = `meshwork <command> [options]

Commands:
  analyze -f <path>... [--json]
      Validate Istio YAML as Istio's API server and webhook do, and analyze it as
      istioctl analyze does. Exit 2: invalid input; 1: findings; 0: clean.
  explain outbound -f <path>... --namespace <ns> [--labels k=v,...] [--service-account <sa>]
                   [-H 'name: value']... '<METHOD> <URL>' [--json]
      What a client's request does: route, destinations, retries, timeout, fault, mirror.
  explain inbound -f <path>... --namespace <ns> --labels k=v,... --port <n>
                  [--principal <id> | --plaintext] [--source-ip <ip>] [--jwt-claims '<json>']
                  [-H 'name: value']... '<METHOD> <PATH>' [--json]
      What a server does with a request: mTLS mode, connection, authorization decision.
  demo
      Analyze the Bookinfo samples and explain a few requests.
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
        return analyzeCommand(rest, io);
      case 'explain':
        return explainCommand(rest, io);
      case 'demo':
        return demoCommand(rest, io);
      default:
        throw new UsageError(`unknown command "${cmd}"; run "meshwork help"`);
    }
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`meshwork: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
