/**
 * A production portal (`next start` on a build directory) as a child process the load benchmark
 * and the crash tests can start, kill -9 and restart on the same data: its own data directory,
 * key file and database (PGlite in the data directory, or a PostgreSQL database by URL), bound
 * to 127.0.0.1 only. The fixture (clinicians on care teams, a device client) is written
 * in-process before the server starts, because PGlite must never be opened by two processes.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { eq, inArray } from 'drizzle-orm';
import type { JWK } from 'jose';
import { migrateHandle, openDatabase, setDatabase, type Db, type DatabaseHandle } from '@/db/client';
import { careTeam, patients, users } from '@/db/schema';
import { DEMO_PASSWORD, seedDatabase } from '@/db/seed';
import type { Viewer } from '@/lib/domain/access/viewer';
import { issueApiClient } from '@/lib/features/devices/api-clients';
import type { DeviceIdentity } from '@/bench/load/client';
import { resetChainKey } from '@/lib/platform/audit/chain';
import { insertRoleRows, unsetUserMacFields, withMac } from '@/lib/platform/integrity';
import { createSession } from '@/lib/features/credentials/sessions';
import { loadRolesAndPermissions } from '@/lib/pipeline/actor';
import { hashPassword } from '@/lib/features/credentials/passwords';
import { evictDataKey, setKeyProvider } from '@/lib/platform/crypto';
import { ensureKeyFile, loadKeyFileProvider } from '@/lib/platform/crypto/key-provider';
import { monitorConfigSchema, saveMonitorConfig } from '@/lib/features/monitor/config';

export const REPO_ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..');
const NEXT_BIN = path.join(REPO_ROOT, 'node_modules', 'next', 'dist', 'bin', 'next');
/** The portal's own server (`npm start`), which tells the app each request's peer address. */
const SERVE_SCRIPT = path.join(REPO_ROOT, 'scripts', 'serve.mjs');

export interface PortalConfig {
  /** Absolute directory for keys, the PGlite database (when no URL), the auth secret and logs. */
  dataDir: string;
  /** A postgres:// URL; absent → PGlite in `<dataDir>/pglite`. */
  databaseUrl?: string;
  /** The Next build directory (NEXT_DIST_DIR), relative to the repository. */
  distDir: string;
  port: number;
  /**
   * What several instances of one deployment share (bench/cluster): the key file (default
   * `<dataDir>/keys.json`), Auth.js's secret (default: a new one per server), and anything else
   * the environment must say (e.g. the instance's name, the alert webhook, the test clock).
   */
  keyFile?: string;
  authSecret?: string;
  env?: Record<string, string>;
  /** Node options before the server script (a benchmark's `--cpu-prof`, which NODE_OPTIONS refuses). */
  nodeArgs?: string[];
}

export const keyFileOf = (config: PortalConfig) => config.keyFile ?? path.join(config.dataDir, 'keys.json');
export const baseUrlOf = (config: PortalConfig) => `http://127.0.0.1:${config.port}`;

/** Sources a production build is made from: a file newer than the build makes it stale. */
const BUILD_INPUTS = ['app', 'components', 'lib', 'db', 'proxy.ts', 'instrumentation.ts', 'next.config.js', 'postcss.config.mjs', 'package-lock.json'];

function newestInput(entry: string): number {
  const full = path.join(REPO_ROOT, entry);
  if (!existsSync(full)) return 0;
  const stat = statSync(full);
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(stat.mtimeMs, ...readdirSync(full).map((name) => newestInput(path.join(entry, name))));
}

/**
 * Builds the portal into `distDir` unless an up-to-date build is already there (or `force`).
 * `reuse` takes any existing build as it is (e.g. the one the e2e stage just made).
 */
export function ensureBuild(distDir: string, options: { force?: boolean; reuse?: boolean; log?: (line: string) => void } = {}): void {
  const buildId = path.join(REPO_ROOT, distDir, 'BUILD_ID');
  const builtAt = existsSync(buildId) ? statSync(buildId).mtimeMs : 0;
  const stale = builtAt > 0 && !options.reuse && Math.max(...BUILD_INPUTS.map(newestInput)) > builtAt;
  if (!options.force && builtAt > 0 && !stale) {
    options.log?.(`Reusing the build in ${distDir} (${new Date(builtAt).toISOString()}).`);
    return;
  }
  options.log?.(`Building the portal into ${distDir} (next build${stale ? ': sources changed since the last build' : ''})…`);
  const build = spawnSync(process.execPath, [NEXT_BIN, 'build'], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { ...process.env, NEXT_DIST_DIR: distDir, NEXT_TELEMETRY_DISABLED: '1' },
  });
  if (build.status !== 0) throw new Error(`next build into ${distDir} failed.`);
}

// ---------------------------------------------------------------- fixture

export interface FixtureOptions {
  patients: number;
  /** Simulated clinicians: nurse accounts (nurses record vitals), each with its own login. */
  clinicians: number;
  /** Patients on each clinician's care team. */
  caseload: number;
  /** Also issue a device API client (the JWE vitals feed). */
  deviceClient?: boolean;
}

export interface Fixture {
  clinicians: string[];
  password: string;
  patientIds: string[];
  /** The device client's credential and private signing key, when asked for; it serves every fixture patient up to the API's limit of 500. */
  device?: DeviceIdentity;
}

export const clinicianEmail = (index: number) => `load-nurse-${String(index + 1).padStart(3, '0')}@vigil.test`;

/** Uses this portal's key file in this process (the server reads the same file). */
export function useKeysOf(config: PortalConfig): void {
  mkdirSync(config.dataDir, { recursive: true });
  ensureKeyFile(keyFileOf(config));
  setKeyProvider(loadKeyFileProvider(keyFileOf(config)));
  resetChainKey();
  evictDataKey();
}

/** Opens the portal's database in this process, as the process-wide handle. Close it before `start()` on PGlite. */
export async function openPortalDatabase(config: PortalConfig): Promise<DatabaseHandle> {
  useKeysOf(config);
  const handle = await openDatabase(config.databaseUrl ? { url: config.databaseUrl } : { dataDir: path.join(config.dataDir, 'pglite') });
  setDatabase(handle);
  return {
    ...handle,
    close: async () => {
      setDatabase(undefined);
      await handle.close();
    },
  };
}

/** Migrates and seeds a fresh database, then adds the simulated clinicians and the device client. */
export async function prepareFixture(config: PortalConfig, options: FixtureOptions): Promise<Fixture> {
  const handle = await openPortalDatabase(config);
  try {
    await migrateHandle(handle);
    await seedDatabase(handle.db, { patients: options.patients });
    const patientIds = (await handle.db.select({ id: patients.id }).from(patients).orderBy(patients.createdAt, patients.id)).map((p) => p.id);
    const clinicians = await addClinicians(handle.db, patientIds, options);
    await allowMachineSpeedAccess(handle.db);
    const fixture: Fixture = { clinicians, password: DEMO_PASSWORD, patientIds };
    if (options.deviceClient) fixture.device = await issueDeviceClient(handle.db, options.patients);
    return fixture;
  } finally {
    await handle.close();
  }
}

async function addClinicians(db: Db, patientIds: string[], options: FixtureOptions): Promise<string[]> {
  const passwordHash = await hashPassword(DEMO_PASSWORD);
  const emails = Array.from({ length: options.clinicians }, (_, i) => clinicianEmail(i));
  const rows = emails.map((email, i) => withMac('users', { ...unsetUserMacFields, id: crypto.randomUUID(), email, displayName: `Load Nurse ${i + 1}`, passwordHash }));
  if (rows.length === 0) return [];
  await db.transaction(async (tx) => {
    await tx.insert(users).values(rows);
    await insertRoleRows(tx, rows.map((r) => ({ userId: r.id, roleName: 'nurse' })));
    // Overlapping caseloads, as on a ward: clinician i cares for `caseload` patients from i × 7 on.
    const team = rows.flatMap((r, i) =>
      Array.from({ length: Math.min(options.caseload, patientIds.length) }, (_, k) =>
        withMac('care_team', { id: crypto.randomUUID(), patientId: patientIds[(i * 7 + k) % patientIds.length]!, userId: r.id, relationship: 'nursing', untilAt: null }),
      ),
    );
    for (let i = 0; i < team.length; i += 1000) await tx.insert(careTeam).values(team.slice(i, i + 1000));
  });
  return emails;
}

/**
 * The access monitor would (rightly) contain a "nurse" who opens a chart every second: a human's
 * baseline is ~20 an hour. The load clients are machines, so the volume floor is raised to the
 * schema's maximum (100,000 accesses an hour); every other rule stays on, and every access is
 * still counted by the monitor in its transaction (that cost is part of what is measured).
 */
async function allowMachineSpeedAccess(db: Db): Promise<void> {
  await saveMonitorConfig(db, monitorConfigSchema.parse({ volumeFloor: 100_000 }), null);
}

async function issueDeviceClient(db: Db, patientCount: number): Promise<DeviceIdentity> {
  const [admin] = await db.select().from(users).where(eq(users.email, 'admin@vigil.test')).limit(1);
  if (!admin) throw new Error('The seed has no admin account.');
  const { roles, permissions } = await loadRolesAndPermissions(db, admin.id);
  // A real session row: issuing a client re-checks the actor's session and needs a fresh sign-in.
  const session = await createSession(db, admin.id, { ip: '127.0.0.1', userAgent: 'vigil-load-fixture' });
  const viewer: Viewer = { userId: admin.id, sessionId: session.id, email: admin.email, displayName: admin.displayName, roles, permissions, ip: '127.0.0.1', userAgent: 'vigil-load-fixture' };
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const { kty, crv, x } = publicKey.export({ format: 'jwk' });
  // The seed numbers its patients' MRNs from 40000000 (db/seed.ts syntheticPatient).
  const mrns = Array.from({ length: Math.min(patientCount, 500) }, (_, index) => String(40_000_000 + index));
  const issued = await issueApiClient(viewer, { name: 'Load test bedside monitor', signingKey: { kty, crv, x }, patients: mrns });
  if (!issued.ok) throw new Error(issued.message);
  return { credential: issued.value.credential, signingJwk: privateKey.export({ format: 'jwk' }) as JWK };
}

/** The ids of users by email (for checks after a run). */
export async function userIdsByEmail(db: Db, emails: string[]): Promise<Map<string, string>> {
  const rows = emails.length ? await db.select({ id: users.id, email: users.email }).from(users).where(inArray(users.email, emails)) : [];
  return new Map(rows.map((r) => [r.email, r.id]));
}

// ---------------------------------------------------------------- the server process

export class PortalServer {
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private readonly authSecret: string;
  readonly logFile: string;

  constructor(readonly config: PortalConfig) {
    this.logFile = path.join(config.dataDir, 'server-output.log');
    this.authSecret = config.authSecret ?? randomBytes(32).toString('base64url');
  }

  get baseUrl(): string {
    return baseUrlOf(this.config);
  }

  /** Starts the portal (scripts/serve.mjs) on 127.0.0.1 and waits until /api/health answers 200. */
  async start(timeoutMs = 120_000): Promise<void> {
    if (this.child) throw new Error('The portal is already running.');
    mkdirSync(this.config.dataDir, { recursive: true });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      NODE_ENV: 'production',
      // Seeded with the demo accounts, which production mode refuses.
      VIGIL_MODE: 'demo',
      NEXT_DIST_DIR: this.config.distDir,
      VIGIL_DATA_DIR: this.config.dataDir,
      VIGIL_KEY_FILE: keyFileOf(this.config),
      AUTH_SECRET: this.authSecret,
      AUTH_TRUST_HOST: 'true',
      NEXT_TELEMETRY_DISABLED: '1',
    };
    delete env.DATABASE_URL;
    delete env.VIGIL_TEST_CLOCK;
    delete env.VIGIL_LOG_FILE;
    delete env.VIGIL_MASTER_KEYS;
    if (this.config.databaseUrl) env.DATABASE_URL = this.config.databaseUrl;
    Object.assign(env, this.config.env);
    const out = openSync(this.logFile, 'a');
    // Its own process group, so stop() and kill9() reach every process it starts.
    const child = spawn(process.execPath, [...(this.config.nodeArgs ?? []), SERVE_SCRIPT, '-p', String(this.config.port), '-H', '127.0.0.1'], {
      cwd: REPO_ROOT,
      env,
      detached: true,
      stdio: ['ignore', out, out],
    });
    closeSync(out);
    this.child = child;
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.exitCode !== null || child.signalCode !== null) break;
      try {
        const response = await fetch(`${this.baseUrl}/api/health`, { signal: AbortSignal.timeout(5_000) });
        if (response.ok) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 250));
    }
    const tail = this.outputTail();
    await this.kill9().catch(() => undefined);
    throw new Error(`The portal on port ${this.config.port} did not become healthy.\n${tail}`);
  }

  /** The `next-server` process itself (Next may run it as the spawned process or as a child of it). */
  serverPid(): number {
    const root = this.child?.pid;
    if (!root) throw new Error('The portal is not running.');
    const all = [root, ...descendants(root)];
    return all.find((pid) => processTitle(pid).startsWith('next-server')) ?? root;
  }

  /** kill -9 the next-server process (no shutdown hooks, no flush), then anything left in its group. */
  async kill9(): Promise<{ pid: number; title: string }> {
    const child = this.child;
    if (!child?.pid) throw new Error('The portal is not running.');
    const pid = this.serverPid();
    const title = processTitle(pid);
    process.kill(pid, 'SIGKILL');
    try {
      process.kill(-child.pid, 'SIGKILL');
    } catch {
      // the group is already gone
    }
    await this.exited;
    this.child = null;
    return { pid, title };
  }

  /** A clean stop (SIGTERM to the group, SIGKILL after 15 s). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child?.pid) return;
    try {
      process.kill(-child.pid, 'SIGTERM');
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {
        // already gone
      }
    }, 15_000);
    await this.exited;
    clearTimeout(timer);
    this.child = null;
  }

  outputTail(lines = 40): string {
    try {
      return readFileSync(this.logFile, 'utf8').split('\n').slice(-lines).join('\n');
    } catch {
      return '';
    }
  }
}

/** CPU seconds (user + system) used so far by a process and its live descendants (Linux clock ticks are 1/100 s). */
export function treeCpuSeconds(root: number): number {
  let ticks = 0;
  for (const pid of [root, ...descendants(root)]) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // ended while we looked
    }
  }
  return ticks / 100;
}

function descendants(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // the process ended while we looked
    }
  }
  const out: number[] = [];
  const queue = [...(children.get(pid) ?? [])];
  while (queue.length) {
    const next = queue.shift()!;
    out.push(next);
    queue.push(...(children.get(next) ?? []));
  }
  return out;
}

function processTitle(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0] ?? '';
  } catch {
    return '';
  }
}

/** A free TCP port on 127.0.0.1 from `from` up. */
export async function freePort(from: number): Promise<number> {
  const net = await import('node:net');
  for (let port = from; port < from + 200; port++) {
    const free = await new Promise<boolean>((resolve) => {
      const server = net.createServer();
      server.once('error', () => resolve(false));
      server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error(`No free port from ${from}.`);
}
