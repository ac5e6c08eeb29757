#!/usr/bin/env bash
# Throwaway PostgreSQL server for tests (Debian's postgresql, 15 on bookworm).
#
# Two ways to use it:
#   source scripts/ensure-postgres.sh     # from another bash script: starts the server, exports
#                                         # the variables below, stops it on EXIT (see trap note)
#   eval "$(bash scripts/ensure-postgres.sh)"   # interactive: leaves the server running and
#   bash scripts/ensure-postgres.sh stop        # prints `export ...` lines (incl. DATABASE_URL,
#                                               # APP_DATABASE_URL); stop it with this line
#
# Exported variables:
#   PG_TEST_ADMIN_URL  superuser (vigil_admin, no password, trust auth) on database `postgres`;
#                      use it to CREATE/DROP DATABASE (test/db.ts makes one database per test file)
#   DATABASE_URL_PG    superuser on database `vigil_test` (owner of everything in it)
#   PG_TEST_APP_URL    role vigil_app (LOGIN, password vigil_app, scram-sha-256, NOT superuser,
#                      owns nothing) on `vigil_test` -- for append-only / least-privilege tests
#   PG_TEST_PORT, PG_TEST_DIR, PG_TEST_BIN (data dir and bin dir, for debugging)
# Functions (when sourced): pg_test_stop -- stops the server and deletes its data directory.
# Knobs: PG_TEST_PORT (first port tried, default 55432), PG_TEST_OS_USER (default postgres),
#        PG_TEST_DURABLE=1 (fsync and synchronous_commit on), PG_TEST_STATEMENTS=1 (pg_stat_statements).
#
# DATABASE_URL itself is deliberately NOT exported when sourced: test-all runs PGlite stages in
# the same shell, and a stray DATABASE_URL would silently switch them to Postgres.

# When sourced we must not change the caller's shell options; when run, be strict.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
  set -euo pipefail
  _pg_sourced=0
else
  _pg_sourced=1
fi

_pg_log() { echo "[ensure-postgres] $*" >&2; }

pg_test_stop() {
  if [[ -n "${PG_TEST_DIR:-}" && -d "$PG_TEST_DIR" ]]; then
    if [[ -f "$PG_TEST_DIR/data/postmaster.pid" ]]; then
      runuser -u "${PG_TEST_OS_USER:-postgres}" -- "$PG_TEST_BIN/pg_ctl" -D "$PG_TEST_DIR/data" \
        -m immediate -w stop >/dev/null 2>&1 || true   # immediate: it is throwaway data
    fi
    rm -rf "$PG_TEST_DIR"
    _pg_log "stopped server and removed $PG_TEST_DIR"
  fi
}

_pg_start() {
  local os_user="${PG_TEST_OS_USER:-postgres}" initdb
  PG_TEST_OS_USER=$os_user
  # 1. Binaries: install Debian's postgresql only when missing (new CI machine).
  initdb=$(ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -n1 || true)
  if [[ -z "$initdb" ]]; then
    _pg_log "installing postgresql via apt-get"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2
    initdb=$(ls /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n1)
  fi
  PG_TEST_BIN=$(dirname "$initdb")

  # 2. Postgres refuses to run as root: use an unprivileged OS user.
  if ! id "$os_user" >/dev/null 2>&1; then
    useradd --system --no-create-home --shell /usr/sbin/nologin "$os_user" || return 1
  fi

  # 3. Fresh cluster in a temp dir; socket in the same dir (no /var/run/postgresql needed).
  # (Explicit `|| return 1`: when sourced behind `||`, bash ignores set -e inside functions.)
  PG_TEST_DIR=$(mktemp -d /tmp/vigil-pg.XXXXXX) || return 1
  chown "$os_user" "$PG_TEST_DIR"
  chmod 700 "$PG_TEST_DIR"
  runuser -u "$os_user" -- "$initdb" -D "$PG_TEST_DIR/data" -U vigil_admin \
    --auth-local=trust --auth-host=trust -E UTF8 --locale=C.UTF-8 >/dev/null || { pg_test_stop; return 1; }
  # vigil_app must present its password (exercises postgres.js SCRAM); the line must come
  # before initdb's catch-all trust lines, so prepend.
  local hba="$PG_TEST_DIR/data/pg_hba.conf"
  { echo "host all vigil_app 127.0.0.1/32 scram-sha-256"; cat "$hba"; } >"$hba.new"
  mv "$hba.new" "$hba"; chown "$os_user" "$hba"

  # 4. Start on the first free port from PG_TEST_PORT up. Retry on failure, because another
  #    test run (or a crashed one) may take the port between our probe and the bind.
  #    Durability off: throwaway data, and it makes CREATE DATABASE per test file fast.
  #    PG_TEST_DURABLE=1 turns it back on (the load benchmark quotes throughput only so), and
  #    PG_TEST_STATEMENTS=1 loads pg_stat_statements (the benchmark counts queries per request).
  local port="${PG_TEST_PORT:-55432}" attempt
  local durability="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
  [[ "${PG_TEST_DURABLE:-0}" == 1 ]] && durability="-c fsync=on -c synchronous_commit=on -c full_page_writes=on"
  [[ "${PG_TEST_STATEMENTS:-0}" == 1 ]] && durability="$durability -c shared_preload_libraries=pg_stat_statements"
  for attempt in 1 2 3 4 5 6 7 8; do
    while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
    if runuser -u "$os_user" -- "$PG_TEST_BIN/pg_ctl" -D "$PG_TEST_DIR/data" -w -t 60 \
        -l "$PG_TEST_DIR/server.log" \
        -o "-p $port -c listen_addresses=127.0.0.1 -c unix_socket_directories=$PG_TEST_DIR \
            $durability -c max_connections=200" \
        start >/dev/null; then
      break
    fi
    if (( attempt == 8 )); then cat "$PG_TEST_DIR/server.log" >&2; pg_test_stop; return 1; fi
    port=$((port + 1))
  done

  PG_TEST_PORT=$port
  PG_TEST_ADMIN_URL="postgres://vigil_admin@127.0.0.1:$port/postgres"
  DATABASE_URL_PG="postgres://vigil_admin@127.0.0.1:$port/vigil_test"
  PG_TEST_APP_URL="postgres://vigil_app:vigil_app@127.0.0.1:$port/vigil_test"
  "$PG_TEST_BIN/psql" -q -v ON_ERROR_STOP=1 "$PG_TEST_ADMIN_URL" >/dev/null <<'SQL' || { pg_test_stop; return 1; }
CREATE DATABASE vigil_test;
CREATE ROLE vigil_app LOGIN PASSWORD 'vigil_app' NOSUPERUSER NOCREATEDB NOCREATEROLE;
SQL
  export PG_TEST_PORT PG_TEST_DIR PG_TEST_BIN PG_TEST_OS_USER \
    PG_TEST_ADMIN_URL DATABASE_URL_PG PG_TEST_APP_URL
  _pg_log "PostgreSQL $("$PG_TEST_BIN/postgres" -V | awk '{print $3}') on 127.0.0.1:$port (data $PG_TEST_DIR)"
}

if (( _pg_sourced )); then
  _pg_start || return 1
  # Stop on exit unless the caller already owns the EXIT trap (then it must call pg_test_stop).
  if [[ -z "$(trap -p EXIT)" ]]; then trap pg_test_stop EXIT; fi
else
  if [[ "${1:-}" == "stop" ]]; then
    # Stop the server started by an earlier `eval "$(bash scripts/ensure-postgres.sh)"`. Only
    # the one named (arg or PG_TEST_DIR): other test runs may be using theirs right now.
    PG_TEST_DIR="${2:-${PG_TEST_DIR:-}}"
    [[ "$PG_TEST_DIR" == /tmp/vigil-pg.* ]] || { _pg_log "usage: stop [PG_TEST_DIR]"; exit 2; }
    PG_TEST_BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1)
    pg_test_stop
    exit 0
  fi
  _pg_start
  echo "export PG_TEST_ADMIN_URL='$PG_TEST_ADMIN_URL'"
  echo "export DATABASE_URL='$DATABASE_URL_PG'"
  echo "export APP_DATABASE_URL='$PG_TEST_APP_URL'"
  echo "export DATABASE_URL_PG='$DATABASE_URL_PG' PG_TEST_APP_URL='$PG_TEST_APP_URL' PG_TEST_DIR='$PG_TEST_DIR'"
fi
