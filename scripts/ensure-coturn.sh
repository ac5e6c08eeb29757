#!/usr/bin/env bash
# coturn, the TURN server video visits use behind NAT (Debian's coturn): installed with apt-get
# only when missing (a new CI machine), like scripts/ensure-haproxy.sh. Prints the binary's path.
# docs/operations.md ("TURN for video visits") shows how to run it for the portal.
set -euo pipefail
if ! command -v turnserver >/dev/null 2>&1; then
  echo "[ensure-coturn] installing coturn via apt-get" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq coturn >&2
fi
command -v turnserver
