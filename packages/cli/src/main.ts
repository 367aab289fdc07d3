import { readFileSync } from 'node:fs';

const USAGE = `meshwork <command> [options]

Commands:
  analyze -f <path>...     validate and analyze Istio YAML
  explain outbound|inbound decide what a request does
  help                     this text
`;

export async function main(argv: string[]): Promise<number> {
  const [cmd] = argv;
  switch (cmd) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return 0;
    case '--version':
    case 'version': {
      const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
      process.stdout.write(`${pkg.version}\n`);
      return 0;
    }
    default:
      process.stderr.write(`meshwork: unknown command "${cmd}"; run "meshwork help"\n`);
      return 2;
  }
}
