#!/usr/bin/env node
import { tuneControlServiceProcess } from '@meshwork/control/process';

const argv = process.argv.slice(2);
// `meshwork control` makes this process the control service: its V8 heap is tuned before
// anything of the service loads (see @meshwork/control's process.ts). Programs that call
// main() themselves keep their own heap settings.
if (argv[0] === 'control') tuneControlServiceProcess();
const { main } = await import('./main.js');

// Exit codes are the CLI's contract (see README): never let an unexpected throw print a stack
// trace with exit 1, which would read as "analysis has findings".
main(argv).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`meshwork: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  },
);
