#!/usr/bin/env bash
# Runs a command with the project-local Node 24 and pnpm first on PATH.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export TURBO_TELEMETRY_DISABLED=1
export PATH="$root/.tools/node_modules/.bin:$PATH"
# Keeps the caller's working directory: package scripts and tools run where they are called.
exec "$@"
