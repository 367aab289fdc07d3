#!/usr/bin/env bash
# Makes sure a Prometheus binary exists for test/telemetry/prometheus.test.ts, which starts its
# own Prometheus on a free port with a config it writes. Idempotent and silent when there is one
# already: $MESHWORK_PROMETHEUS, /usr/bin/prometheus or `prometheus` on PATH. Otherwise installs
# Debian's `prometheus` package (apt-get, as root or through sudo) without letting the package
# start or enable its system service: the test needs the binary, not a daemon on :9090.
set -euo pipefail

if [ -n "${MESHWORK_PROMETHEUS:-}" ] && [ -x "$MESHWORK_PROMETHEUS" ]; then exit 0; fi
if [ -x /usr/bin/prometheus ] || command -v prometheus >/dev/null 2>&1; then exit 0; fi

fail() {
  echo "ensure-prometheus: $1" >&2
  echo "ensure-prometheus: install Prometheus 2.x yourself and put it on PATH, or set MESHWORK_PROMETHEUS to its binary" >&2
  exit 1
}
command -v apt-get >/dev/null 2>&1 || fail "no prometheus binary and no apt-get to install Debian's package"
as_root=()
if [ "$(id -u)" != 0 ]; then
  command -v sudo >/dev/null 2>&1 || fail "no prometheus binary, and installing Debian's package needs root or sudo"
  as_root=(sudo)
fi

echo "ensure-prometheus: installing Debian's prometheus package (binary only, service not started)" >&2
log=$(mktemp)
policy=/usr/sbin/policy-rc.d
backup=""
restore() {
  # Put back whatever policy-rc.d the machine had (Docker images ship one that says 101).
  if [ -n "$backup" ]; then "${as_root[@]}" mv -f "$backup" "$policy"; else "${as_root[@]}" rm -f "$policy"; fi
  rm -f "$log"
}
# invoke-rc.d and deb-systemd-invoke ask policy-rc.d before starting a service in a maintainer
# script; 101 means "not allowed". Covers sysvinit, systemd and containers without either.
if [ -e "$policy" ]; then
  backup=$("${as_root[@]}" mktemp /usr/sbin/policy-rc.d.XXXXXX)
  "${as_root[@]}" cp -p "$policy" "$backup"
fi
trap restore EXIT
printf '#!/bin/sh\nexit 101\n' | "${as_root[@]}" tee "$policy" >/dev/null
"${as_root[@]}" chmod 755 "$policy"

export DEBIAN_FRONTEND=noninteractive
if ! { "${as_root[@]}" apt-get update -qq \
       && "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus; } >"$log" 2>&1; then
  cat "$log" >&2
  fail "apt-get could not install prometheus"
fi

# Belt and braces: the package enables its unit (or init script) for the next boot even when it
# may not start it now. Stop and disable it wherever an init system is there to ask.
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  "${as_root[@]}" systemctl disable --now prometheus.service >/dev/null 2>&1 || true
else
  if [ -x /etc/init.d/prometheus ]; then "${as_root[@]}" /etc/init.d/prometheus stop >/dev/null 2>&1 || true; fi
  if command -v update-rc.d >/dev/null 2>&1; then "${as_root[@]}" update-rc.d prometheus disable >/dev/null 2>&1 || true; fi
  if command -v systemctl >/dev/null 2>&1; then "${as_root[@]}" systemctl disable prometheus.service >/dev/null 2>&1 || true; fi
fi
[ -x /usr/bin/prometheus ] || fail "the package installed no /usr/bin/prometheus"
echo "ensure-prometheus: $(/usr/bin/prometheus --version 2>&1 | head -n 1)" >&2
