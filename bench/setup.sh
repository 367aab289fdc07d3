#!/usr/bin/env bash
# Set-up for the benchmarks that run nginx (fetch.mjs, security.mjs): Debian's nginx and openssl.
# Idempotent: does nothing when both are already on PATH. Installs only the packages; the
# system nginx service is never started (the bench runs its own nginx processes from configs
# in a temp dir), so a policy-rc.d that forbids service starts is in place during the install.
set -euo pipefail
export PATH="$PATH:/usr/sbin:/sbin"

missing=()
command -v nginx >/dev/null 2>&1 || missing+=(nginx)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "setup: ${missing[*]} missing; run as root or install Debian's nginx-light and openssl" >&2
  exit 1
fi

policy=/usr/sbin/policy-rc.d
own_policy=
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod 755 "$policy"
  own_policy=1
fi
cleanup() { if [ -n "$own_policy" ]; then rm -f "$policy"; fi; }
trap cleanup EXIT

pkgs=()
for m in "${missing[@]}"; do
  if [ "$m" = nginx ]; then pkgs+=(nginx-light); else pkgs+=("$m"); fi
done
echo "setup: installing ${pkgs[*]} from Debian" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# nginx-light is gone from newer Debian releases, where the plain nginx package is the small one.
if ! apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null; then
  pkgs=("${pkgs[@]/nginx-light/nginx}")
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
fi
command -v nginx >/dev/null && command -v openssl >/dev/null
echo "setup: $(nginx -v 2>&1)" >&2
