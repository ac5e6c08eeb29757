#!/usr/bin/env bash
# HAProxy for the multi-instance tests, benchmark and `npm run cluster` (Debian's haproxy):
# installed with apt-get only when missing (a new CI machine), like scripts/ensure-postgres.sh.
# Prints the binary's path.
set -euo pipefail
if ! command -v haproxy >/dev/null 2>&1; then
  echo "[ensure-haproxy] installing haproxy via apt-get" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq haproxy >&2
fi
command -v haproxy
