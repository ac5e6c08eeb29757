/**
 * A deployment of several portal instances on one PostgreSQL behind HAProxy, started and ready:
 * the database (a single server, or a primary with a synchronous standby), the fixture, N
 * production servers (scripts/serve.mjs) sharing what one deployment shares — the build, the key
 * file, AUTH_SECRET, NEXT_SERVER_ACTIONS_ENCRYPTION_KEY — each with its own name, and HAProxy
 * in front. Used by `npm run cluster`, the cluster server tests and `bench:load --instances`.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createPortalDatabase, grantAppRole, postgresServer, type PortalDatabase, type PostgresServer } from '@/bench/load/postgres';
import { keyFileOf, PortalServer, prepareFixture, type Fixture, type FixtureOptions, type PortalConfig } from '@/bench/load/portal';
import { Haproxy } from './haproxy';
import { multiHostUrl, startReplicatedPostgres, type ReplicatedPostgres } from './replication';

/** The ports this deployment may use: instances from `portalPort`, HAProxy's frontend and stats, PostgreSQL's range. */
export interface ClusterPorts {
  portal: number;
  proxy: number;
  stats?: number;
  postgres: { from: number; to: number };
}

export interface ClusterOptions {
  instances: number;
  distDir: string;
  fixture: FixtureOptions;
  /** A primary with a synchronous standby (failover), or one server. */
  replicated: boolean;
  ports: ClusterPorts;
  /** More environment for every instance (the alert webhook, the test clock…). */
  env?: Record<string, string>;
  /** Run in-process on the database before the instances start (e.g. monitor settings). */
  prepare?: (config: PortalConfig) => Promise<void>;
  log?: (line: string) => void;
}

export interface RunningCluster {
  fixture: Fixture;
  instances: PortalServer[];
  proxy: Haproxy;
  /** The balancer's URL: what browsers use. */
  baseUrl: string;
  /** Owner rights on the database, for checks from this process (single host: the primary before any failover). */
  inspectConfig: PortalConfig;
  /** The same owner URL naming both servers, for checks after a failover. */
  ownerUrl: string;
  database: PostgresServer | ReplicatedPostgres;
  cleanup(): Promise<void>;
}

export const instanceName = (index: number) => `vigil-${String.fromCharCode(97 + index)}`;

export async function startCluster(options: ClusterOptions): Promise<RunningCluster> {
  const log = options.log ?? (() => {});
  const root = mkdtempSync(path.join(os.tmpdir(), 'vigil-cluster-'));
  let server: PostgresServer | ReplicatedPostgres | null = null;
  let database: PortalDatabase | null = null;
  const instances: PortalServer[] = [];
  let proxy: Haproxy | null = null;
  const cleanup = async () => {
    await proxy?.stop();
    await Promise.all(instances.map((i) => i.stop()));
    await database?.drop().catch(() => undefined);
    server?.stop();
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const replicated = options.replicated ? await startReplicatedPostgres({ ...options.ports.postgres, log }) : null;
    server = replicated ?? postgresServer(log);
    database = await createPortalDatabase(server, 'vigil_cluster');
    const hosts = replicated?.hosts ?? null;
    const inspectConfig: PortalConfig = { dataDir: path.join(root, 'shared'), distDir: options.distDir, port: options.ports.portal, databaseUrl: database.ownerUrl };
    log(`Seeding ${options.fixture.patients} patients and ${options.fixture.clinicians} clinician accounts…`);
    const fixture = await prepareFixture(inspectConfig, options.fixture);
    await grantAppRole(database);
    await options.prepare?.(inspectConfig);

    // One deployment: the same keys, the same session secret, the same server-action key.
    const shared = {
      keyFile: keyFileOf(inspectConfig),
      authSecret: randomBytes(32).toString('base64url'),
      actionKey: randomBytes(32).toString('base64'),
    };
    const appUrl = hosts ? multiHostUrl(database.appUrl, hosts) : database.appUrl;
    for (let i = 0; i < options.instances; i++) {
      const name = instanceName(i);
      instances.push(
        new PortalServer({
          dataDir: path.join(root, name),
          distDir: options.distDir,
          port: options.ports.portal + i,
          databaseUrl: appUrl,
          keyFile: shared.keyFile,
          authSecret: shared.authSecret,
          env: {
            VIGIL_INSTANCE_NAME: name,
            NEXT_SERVER_ACTIONS_ENCRYPTION_KEY: shared.actionKey,
            // HAProxy on this host is the one proxy whose X-Forwarded-For is believed.
            VIGIL_TRUSTED_PROXIES: 'loopback',
            // The trail's signed checkpoints are one file for the deployment (a shared volume in
            // production): a checkpoint one instance wrote must be found by every verifier.
            VIGIL_AUDIT_CHECKPOINT: path.join(inspectConfig.dataDir, 'audit-checkpoint.json'),
            ...options.env,
          },
        }),
      );
    }
    // One at a time: on two cores, parallel start-ups only slow each other down.
    for (const instance of instances) await instance.start();
    proxy = new Haproxy(path.join(root, 'haproxy'), options.ports.proxy, instances.map((instance, i) => ({ name: instanceName(i), port: instance.config.port })), options.ports.stats);
    await proxy.start();
    log(`${instances.length} instance(s) on ports ${instances.map((i) => i.config.port).join(', ')} behind HAProxy on ${proxy.baseUrl}.`);
    return {
      fixture,
      instances,
      proxy,
      baseUrl: proxy.baseUrl,
      inspectConfig,
      ownerUrl: hosts ? multiHostUrl(database.ownerUrl, hosts) : database.ownerUrl,
      database: server,
      cleanup,
    };
  } catch (error) {
    await cleanup();
    throw error;
  }
}
