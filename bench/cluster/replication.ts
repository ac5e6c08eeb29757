/**
 * PostgreSQL as a hospital runs it: a primary and a synchronous streaming standby (Debian's
 * postgresql, the binaries scripts/ensure-postgres.sh finds or installs), made with
 * `pg_basebackup` and held to `synchronous_standby_names`, so a commit is acknowledged only once
 * the standby has it. `killPrimary()` is `kill -9` of the postmaster; `promoteStandby()` is
 * `pg_ctl promote`. Throwaway: its own directory under /tmp, stopped and removed by `stop()`.
 */
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import path from 'node:path';
import postgres from 'postgres';
import type { PostgresServer } from '@/bench/load/postgres';

/** The standby's name in `synchronous_standby_names` (its walreceiver's application_name). */
const STANDBY_NAME = 'vigil_standby';
const OS_USER = 'postgres';

export interface ReplicatedPostgres extends PostgresServer {
  primaryPort: number;
  standbyPort: number;
  /** `host:port,host:port` of both servers, primary first, for multi-host connection strings. */
  hosts: string;
  /** The primary's postmaster, killed with SIGKILL (no shutdown, no checkpoint). */
  killPrimary(): number;
  /** Ends recovery on the standby and waits until it accepts writes. */
  promoteStandby(): void;
  /** Whether the standby is streaming from the primary as the synchronous standby. */
  syncState(): Promise<string | null>;
}

function binDir(): string {
  // scripts/ensure-postgres.sh installs Debian's postgresql when it is missing (test-all runs it
  // before the server tests); the same detection as there.
  const found = spawnSync('bash', ['-c', 'ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1'], { encoding: 'utf8' }).stdout.trim();
  if (!found) throw new Error('PostgreSQL is not installed: run scripts/ensure-postgres.sh once (it installs Debian\'s postgresql).');
  return found;
}

function run(bin: string, tool: string, args: string[], what: string): string {
  const result = spawnSync('runuser', ['-u', OS_USER, '--', path.join(bin, tool), ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${what} failed: ${(result.stderr || result.stdout).trim().split('\n').slice(-5).join(' | ')}`);
  return result.stdout;
}

function portFree(port: number): boolean {
  return spawnSync('bash', ['-c', `(exec 3<>/dev/tcp/127.0.0.1/${port}) 2>/dev/null`]).status !== 0;
}

function freePorts(from: number, to: number, count: number): number[] {
  const ports: number[] = [];
  for (let port = from; port <= to && ports.length < count; port++) if (portFree(port)) ports.push(port);
  if (ports.length < count) throw new Error(`No ${count} free ports in ${from}-${to} for PostgreSQL.`);
  return ports;
}

/**
 * The settings both servers run with. Durable (fsync and full-page writes on), unlike the
 * single throwaway server of the unit tests: a failover test that could lose a commit to a
 * missing fsync would prove nothing.
 */
function serverOptions(dir: string, port: number): string {
  return [
    `-p ${port}`,
    '-c listen_addresses=127.0.0.1',
    `-c unix_socket_directories=${dir}`,
    '-c max_connections=200',
    '-c wal_level=replica',
    '-c max_wal_senders=5',
    '-c wal_keep_size=256MB',
    '-c hot_standby=on',
    '-c synchronous_commit=on',
  ].join(' ');
}

function startServer(bin: string, dataDir: string, dir: string, port: number, log: string): void {
  run(bin, 'pg_ctl', ['-D', dataDir, '-w', '-t', '60', '-l', log, '-o', serverOptions(dir, port), 'start'], `Starting PostgreSQL on port ${port}`);
}

function postmasterPid(dataDir: string): number {
  return Number(readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
}

/**
 * A primary on the first free port in [from, to] and its synchronous standby on the next. Roles
 * as scripts/ensure-postgres.sh makes them: vigil_admin (superuser, trust) and vigil_app
 * (password, least privilege).
 */
export async function startReplicatedPostgres(options: { from: number; to: number; log?: (line: string) => void }): Promise<ReplicatedPostgres> {
  const log = options.log ?? (() => {});
  const bin = binDir();
  const [primaryPort, standbyPort] = freePorts(options.from, options.to, 2) as [number, number];
  const dir = mkdtempSync('/tmp/vigil-pgha.');
  const uid = Number(spawnSync('id', ['-u', OS_USER], { encoding: 'utf8' }).stdout.trim());
  chownSync(dir, uid, uid);
  chmodSync(dir, 0o700);
  const primaryData = path.join(dir, 'primary');
  const standbyData = path.join(dir, 'standby');
  const stop = () => {
    for (const data of [primaryData, standbyData]) {
      if (existsSync(path.join(data, 'postmaster.pid'))) spawnSync('runuser', ['-u', OS_USER, '--', path.join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', '-w', 'stop'], { stdio: 'ignore' });
    }
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    run(bin, 'initdb', ['-D', primaryData, '-U', 'vigil_admin', '--auth-local=trust', '--auth-host=trust', '-E', 'UTF8', '--locale=C.UTF-8'], 'initdb');
    // vigil_app presents a password; initdb's trust lines (replication included) follow.
    const hba = path.join(primaryData, 'pg_hba.conf');
    writeFileSync(hba, `host all vigil_app 127.0.0.1/32 scram-sha-256\n${readFileSync(hba, 'utf8')}`);
    chownSync(hba, uid, uid);
    startServer(bin, primaryData, dir, primaryPort, path.join(dir, 'primary.log'));
    const adminUrl = `postgres://vigil_admin@127.0.0.1:${primaryPort}/postgres`;
    const admin = postgres(adminUrl, { max: 1, onnotice: () => {} });
    try {
      await admin.unsafe(`CREATE ROLE vigil_app LOGIN PASSWORD 'vigil_app' NOSUPERUSER NOCREATEDB NOCREATEROLE`);
    } finally {
      await admin.end({ timeout: 5 });
    }

    // The standby: a base backup streamed from the primary, with standby.signal and its
    // connection written by -R; its application_name is what synchronous_standby_names names.
    run(bin, 'pg_basebackup', ['-h', '127.0.0.1', '-p', String(primaryPort), '-U', 'vigil_admin', '-D', standbyData, '-R', '-X', 'stream', '-c', 'fast'], 'pg_basebackup');
    appendFileSync(path.join(standbyData, 'postgresql.auto.conf'), `primary_conninfo = 'host=127.0.0.1 port=${primaryPort} user=vigil_admin application_name=${STANDBY_NAME}'\n`);
    startServer(bin, standbyData, dir, standbyPort, path.join(dir, 'standby.log'));

    // Only now synchronous: set before the standby streamed, every commit would wait for it.
    // (ALTER SYSTEM after the base backup, so the promoted standby does not wait for a standby of its own.)
    const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
    const syncState = async (): Promise<string | null> => {
      const probe = postgres(adminUrl, { max: 1, onnotice: () => {}, connect_timeout: 2 });
      try {
        const [row] = await probe<{ sync_state: string }[]>`SELECT sync_state FROM pg_stat_replication WHERE application_name = ${STANDBY_NAME}`;
        return row?.sync_state ?? null;
      } catch {
        return null;
      } finally {
        await probe.end({ timeout: 2 });
      }
    };
    try {
      await sql.unsafe(`ALTER SYSTEM SET synchronous_standby_names = '${STANDBY_NAME}'`);
      await sql.unsafe('SELECT pg_reload_conf()');
    } finally {
      await sql.end({ timeout: 5 });
    }
    const deadline = Date.now() + 30_000;
    while ((await syncState()) !== 'sync') {
      if (Date.now() > deadline) throw new Error('The standby did not become the synchronous standby within 30 s.');
      await new Promise((r) => setTimeout(r, 200));
    }
    log(`PostgreSQL primary on 127.0.0.1:${primaryPort}, synchronous standby on 127.0.0.1:${standbyPort} (${dir}).`);
    return {
      adminUrl,
      appUrlTemplate: `postgres://vigil_app:vigil_app@127.0.0.1:${primaryPort}/postgres`,
      postmasterPid: postmasterPid(primaryData),
      primaryPort,
      standbyPort,
      hosts: `127.0.0.1:${primaryPort},127.0.0.1:${standbyPort}`,
      syncState,
      killPrimary: () => {
        const pid = postmasterPid(primaryData);
        process.kill(pid, 'SIGKILL');
        return pid;
      },
      promoteStandby: () => {
        run(bin, 'pg_ctl', ['-D', standbyData, '-w', '-t', '60', 'promote'], 'pg_ctl promote');
      },
      stop,
    };
  } catch (error) {
    stop();
    throw error;
  }
}

/**
 * The same URL naming both servers, for postgres.js: it tries the hosts in order and, with
 * `target_session_attrs=read-write`, keeps only a connection to a server that accepts writes
 * (not one in recovery, not one set read-only), so after a promotion it finds the new primary.
 */
export function multiHostUrl(url: string, hosts: string): string {
  const rewritten = url.replace(/^(postgres(?:ql)?:\/\/(?:[^@/]*@)?)[^/]+/, `$1${hosts}`);
  return `${rewritten}${rewritten.includes('?') ? '&' : '?'}target_session_attrs=read-write`;
}
