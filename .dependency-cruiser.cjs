/**
 * The house plan, enforced (npm test, scripts/security-checks.sh). lib/ is layered and imports
 * only downward:
 *
 *   lib/domain    pure rules and types: no database, no environment, no I/O
 *   lib/platform  environment, clock, log, keys and envelopes, the audit chain (with db/)
 *   lib/pipeline  the one guarded operation every PHI, admin and review operation runs through
 *   lib/features  what users do: records, break-glass, monitor, admin, auth, notify, devices…
 *   lib/ops       operator jobs: key rotation and shredding, repacking, upgrade steps
 *
 * app/ and components/ sit on top; features may use each other, never in a cycle — neither
 * between modules (no-cycles) nor between feature folders. The folder check lives in
 * test/architecture.test.ts: a folder-scoped rule here cannot be limited to the feature graph,
 * so it would report the harmless loop through db/ (db/seed.ts calls features, features use
 * db/client). docs/architecture.md explains each layer; test/architecture.test.ts plants
 * violations to prove these rules fail.
 */
const layer = (name) => `^lib/${name}/`;
module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      severity: 'error',
      comment: 'A cycle makes two modules one; split the shared part into the lower layer.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'domain-is-pure',
      severity: 'error',
      comment: 'lib/domain holds rules only: no other layer, no database, no Next, no I/O.',
      from: { path: layer('domain') },
      to: {
        pathNot: [layer('domain'), '^node_modules/(zod|server-only)/'],
      },
    },
    {
      name: 'platform-below-pipeline',
      severity: 'error',
      comment: 'lib/platform is infrastructure: it never reaches up into the pipeline, features or ops.',
      from: { path: [layer('platform'), '^db/(client|schema)'] },
      to: { path: [layer('pipeline'), layer('features'), layer('ops'), '^app/', '^components/'] },
    },
    {
      name: 'pipeline-below-features',
      severity: 'error',
      comment: 'The guarded operation knows no feature; features hand it their work.',
      from: { path: layer('pipeline') },
      to: { path: [layer('features'), layer('ops'), '^app/', '^components/'] },
    },
    {
      name: 'features-below-ops',
      severity: 'error',
      comment: 'Features never call operator jobs; ops and scripts call features.',
      from: { path: layer('features') },
      to: { path: [layer('ops'), '^app/', '^components/', '^scripts/'] },
    },
    {
      name: 'lib-below-app',
      severity: 'error',
      comment: 'lib/ serves app/, never the other way round.',
      from: { path: '^lib/' },
      to: { path: ['^app/', '^components/', '^scripts/', '^bench/', '^e2e/'] },
    },
    {
      name: 'app-never-db-or-keys',
      severity: 'error',
      comment: 'Pages and components reach data only through lib/features (and the pipeline).',
      from: { path: ['^app/', '^components/'] },
      to: { path: ['^db/', layer('platform') + 'crypto/', layer('platform') + 'audit/', layer('ops')] },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Packages stay in the graph as leaves (doNotFollow): excluding them would hide an import of
    // drizzle-orm, next or pino from lib/domain, which domain-is-pure exists to refuse.
    exclude: { path: ['\\.test\\.ts$', '^\\.next'] },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default'] },
  },
};
