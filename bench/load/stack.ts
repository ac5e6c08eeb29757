/**
 * A portal with its own database, started and ready: a fresh PostgreSQL database (on the server
 * test-all started, or a throwaway one) or a PGlite directory, the fixture, and the production
 * server. Used by the load benchmark and the server tests.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPortalDatabase, grantAppRole, postgresServer, type PortalDatabase, type ServerKnobs } from './postgres';
import { freePort, PortalServer, prepareFixture, type Fixture, type FixtureOptions, type PortalConfig } from './portal';

export type DatabaseKind = 'pglite' | 'postgres';

export interface RunningPortal {
  kind: DatabaseKind;
  fixture: Fixture;
  portal: PortalServer;
  /** What this process uses to inspect the database (owner rights on PostgreSQL). */
  inspectConfig: PortalConfig;
  /** PostgreSQL's postmaster, when known (CPU accounting in the benchmark). */
  postmasterPid: number | null;
  cleanup(): Promise<void>;
}

/** A fresh database of `kind` with the fixture, and a portal on it (started). */
export async function startPortal(
  kind: DatabaseKind,
  distDir: string,
  fixture: FixtureOptions,
  options: {
    port?: number;
    log?: (line: string) => void;
    /** Durability and query statistics of a PostgreSQL server of its own. */
    knobs?: ServerKnobs;
    /** Variables the fixture and the server both run with (the plaintext twin seals nothing in either). */
    env?: Record<string, string>;
    /** Node options of the server process only (a profiler). */
    nodeArgs?: string[];
  } = {},
): Promise<RunningPortal> {
  const log = options.log ?? (() => {});
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `vigil-${kind}-`));
  const server = kind === 'postgres' ? postgresServer(log, options.knobs) : null;
  let database: PortalDatabase | null = null;
  let portal: PortalServer | null = null;
  const cleanup = async () => {
    await portal?.stop();
    await database?.drop().catch(() => undefined);
    server?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    database = server ? await createPortalDatabase(server, 'vigil_srv') : null;
    const inspectConfig: PortalConfig = { dataDir, distDir, port: await freePort(options.port ?? 3600), databaseUrl: database?.ownerUrl };
    log(`Seeding ${fixture.patients} patients and ${fixture.clinicians} clinician accounts on ${kind === 'postgres' ? 'PostgreSQL' : 'PGlite'}…`);
    const made = await withEnv(options.env ?? {}, () => prepareFixture(inspectConfig, fixture));
    if (database) await grantAppRole(database);
    portal = new PortalServer({ ...inspectConfig, databaseUrl: database?.appUrl, env: options.env, nodeArgs: options.nodeArgs });
    await portal.start();
    return { kind, fixture: made, portal, inspectConfig, postmasterPid: server?.postmasterPid ?? null, cleanup };
  } catch (error) {
    await cleanup();
    throw error;
  }
}

/** Runs `work` with `vars` set in this process's environment, restored afterwards. */
async function withEnv<T>(vars: Record<string, string>, work: () => Promise<T>): Promise<T> {
  const saved = Object.fromEntries(Object.keys(vars).map((name) => [name, process.env[name]]));
  Object.assign(process.env, vars);
  try {
    return await work();
  } finally {
    for (const [name, value] of Object.entries(saved)) {
      if (value === undefined) Reflect.deleteProperty(process.env, name);
      else process.env[name] = value;
    }
  }
}
