#!/usr/bin/env bash
# Throwaway SoftHSM token for the PKCS#11 key-provider tests (Debian's softhsm2).
#
#   source scripts/ensure-softhsm.sh     # from another bash script: installs softhsm2 when
#                                        # missing, creates a fresh token under .data/softhsm-<pid>,
#                                        # exports the variables below; softhsm_test_stop deletes it
#   eval "$(bash scripts/ensure-softhsm.sh)"   # interactive: leaves the token and prints exports
#
# Exported: SOFTHSM2_CONF (the token's own config file, never the system one),
#   VIGIL_TEST_PKCS11_MODULE, VIGIL_TEST_PKCS11_TOKEN_LABEL, VIGIL_TEST_PKCS11_PIN_FILE (mode 0600)
#   and SOFTHSM_TEST_DIR. The PIN is random per run and lives only in the PIN file.
# These are test-set-up names: test/fixtures.ts turns them into the portal's VIGIL_PKCS11_*
# configuration for the test files that run on the token (VIGIL_TEST_KEY_PROVIDER=pkcs11).

if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  _hsm_sourced=0
else
  _hsm_sourced=1
fi

_hsm_log() { echo "[ensure-softhsm] $*" >&2; }

softhsm_test_stop() {
  if [[ -n "${SOFTHSM_TEST_DIR:-}" && -d "$SOFTHSM_TEST_DIR" ]]; then
    rm -rf "$SOFTHSM_TEST_DIR"
    _hsm_log "removed $SOFTHSM_TEST_DIR"
  fi
}

_hsm_module() {
  local m
  for m in /usr/lib/softhsm/libsofthsm2.so /usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so /usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so; do
    [[ -f "$m" ]] && { echo "$m"; return 0; }
  done
  return 1
}

_hsm_start() {
  if ! command -v softhsm2-util >/dev/null 2>&1 || ! _hsm_module >/dev/null; then
    _hsm_log "installing Debian's softhsm2"
    local tries=0
    # Another apt run (a colleague's Chromium install) may hold the lock: wait for it.
    until DEBIAN_FRONTEND=noninteractive apt-get install -y -qq softhsm2 >/dev/null 2>&1; do
      tries=$((tries + 1))
      if (( tries == 1 )); then apt-get update -qq >/dev/null 2>&1 || true; fi
      if (( tries > 30 )); then _hsm_log "could not install softhsm2"; return 1; fi
      sleep 5
    done
  fi
  local module dir pin
  module=$(_hsm_module) || { _hsm_log "libsofthsm2.so not found"; return 1; }
  mkdir -p .data
  dir=$(cd .data && pwd)/softhsm-$$
  rm -rf "$dir"
  mkdir -p "$dir/tokens"
  chmod 700 "$dir"
  cat >"$dir/softhsm2.conf" <<CONF
directories.tokendir = $dir/tokens
objectstore.backend = file
log.level = ERROR
slots.removable = false
CONF
  pin=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
  (umask 077; printf '%s' "$pin" >"$dir/pin")
  chmod 600 "$dir/pin"
  SOFTHSM2_CONF="$dir/softhsm2.conf" softhsm2-util --init-token --free --label vigil-test \
    --so-pin "so-$pin" --pin "$pin" >/dev/null || { _hsm_log "token initialisation failed"; return 1; }
  export SOFTHSM2_CONF="$dir/softhsm2.conf"
  export SOFTHSM_TEST_DIR="$dir"
  export VIGIL_TEST_PKCS11_MODULE="$module"
  export VIGIL_TEST_PKCS11_TOKEN_LABEL=vigil-test
  export VIGIL_TEST_PKCS11_PIN_FILE="$dir/pin"
  _hsm_log "token vigil-test ready in $dir"
}

if (( _hsm_sourced )); then
  _hsm_start
else
  if [[ "${1:-}" == stop ]]; then SOFTHSM_TEST_DIR=${2:-} softhsm_test_stop; exit 0; fi
  _hsm_start
  for v in SOFTHSM2_CONF SOFTHSM_TEST_DIR VIGIL_TEST_PKCS11_MODULE VIGIL_TEST_PKCS11_TOKEN_LABEL VIGIL_TEST_PKCS11_PIN_FILE; do
    printf 'export %s=%q\n' "$v" "${!v}"
  done
fi
