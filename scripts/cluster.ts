/**
 * `npm run cluster [-- --instances 2 --single-database]`: the portal as a hospital deploys it, on
 * this machine. A PostgreSQL primary with a synchronous streaming standby (or one server with
 * --single-database), the demo data, N production instances (`npm start`) sharing one build, key
 * file, AUTH_SECRET and NEXT_SERVER_ACTIONS_ENCRYPTION_KEY, and HAProxy in front (round robin, no
 * sticky sessions; every response names its instance in X-Vigil-Instance). Runs until Ctrl-C,
 * then stops everything and deletes its data: a demonstration, not an installation.
 *
 * Options: --instances N (2), --single-database, --port N (first instance, 3230), --proxy-port N
 * (HAProxy, 3237; its statistics page on the next port), --patients N (50), --dist-dir DIR
 * (.next-load; built when missing or older than the sources).
 */
import { parseArgs } from 'node:util';
import { startCluster } from '@/bench/cluster/cluster';
import { ensureBuild, openPortalDatabase } from '@/bench/load/portal';
import { defaultMonitorConfig, saveMonitorConfig } from '@/lib/features/monitor/config';
import { DEMO_PASSWORD } from '@/db/seed';
import { main } from './cli';

const { values } = parseArgs({
  options: {
    instances: { type: 'string', default: '2' },
    'single-database': { type: 'boolean', default: false },
    port: { type: 'string', default: '3230' },
    'proxy-port': { type: 'string', default: '3237' },
    patients: { type: 'string', default: '50' },
    'dist-dir': { type: 'string', default: '.next-load' },
  },
});

const whole = (name: keyof typeof values, min: number) => {
  const value = Number(values[name]);
  if (!Number.isInteger(value) || value < min) throw new Error(`--${name} must be a whole number ≥ ${min}.`);
  return value;
};

await main(async () => {
  const distDir = values['dist-dir']!;
  ensureBuild(distDir, { log: console.log });
  const proxyPort = whole('proxy-port', 1024);
  const cluster = await startCluster({
    instances: whole('instances', 1),
    distDir,
    replicated: !values['single-database'],
    fixture: { patients: whole('patients', 1), clinicians: 0, caseload: 0 },
    ports: { portal: whole('port', 1024), proxy: proxyPort, stats: proxyPort + 1, postgres: { from: 55630, to: 55639 } },
    // The load fixture raises the monitor's volume floor for machine-speed nurses; people here.
    prepare: async (config) => {
      const handle = await openPortalDatabase(config);
      try {
        await saveMonitorConfig(handle.db, defaultMonitorConfig, null);
      } finally {
        await handle.close();
      }
    },
    log: console.log,
  });
  console.log(`\nVigil on ${cluster.baseUrl} (HAProxy statistics on http://127.0.0.1:${proxyPort + 1}/).`);
  console.log(`Demo accounts (e.g. physician@vigil.test), password ${DEMO_PASSWORD}. Ctrl-C stops everything.`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  console.log('Stopping the cluster…');
  await cluster.cleanup();
});
