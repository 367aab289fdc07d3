#!/usr/bin/env node
import { executableIo, main } from './main.js';

// Exit codes are the CLI's contract (see README): never let an unexpected throw print a stack
// trace with exit 1, which would read as "analysis has findings".
main(process.argv.slice(2), executableIo()).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`meshwork: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 2;
  },
);
