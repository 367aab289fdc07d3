#!/usr/bin/env bash
# One-time (and idempotent) set-up on a fresh clone. Needs only the machine's npm and the npm
# registry: Node 24 comes from the registry's node@24 package and pnpm from its pnpm package,
# both installed into .tools/ (nothing global). Then the workspace is installed and built.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
tools="$root/.tools"
cd "$root"

if ! "$tools/node_modules/.bin/node" -v 2>/dev/null | grep -q '^v24\.' \
   || [ ! -x "$tools/node_modules/.bin/pnpm" ]; then
  echo "setup: installing Node 24 and pnpm into .tools/ (npm registry)" >&2
  (cd "$tools" && npm ci --no-audit --no-fund --loglevel=error)
fi
export TURBO_TELEMETRY_DISABLED=1
export PATH="$tools/node_modules/.bin:$PATH"

# Native addons (re2) must build against Node 24's headers, which the node-<os>-<arch>
# package ships; without this node-gyp would use the machine's Node 20 headers (or try to
# download them, which this network cannot).
gypi=$(find "$tools/node_modules" -path '*/node-*/include/node/common.gypi' -print -quit)
if [ -n "$gypi" ]; then
  export npm_config_nodedir="${gypi%/include/node/common.gypi}"
fi

echo "setup: $(node -v), pnpm $(pnpm -v)" >&2
if [ -n "${CI:-}" ]; then
  pnpm install --frozen-lockfile --reporter=append-only
else
  pnpm install --reporter=append-only
fi
pnpm exec turbo run build --output-logs=errors-only
