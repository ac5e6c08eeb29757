/**
 * What must hold of the database after instances wrote side by side, or after a failover: the
 * audit trail verifies (`npm run audit:verify`, the operator's own check, in its own process),
 * none of its chains has a gap or a fork, and every vitals entry has exactly the one audit entry
 * that recorded it (no record without its entry, no entry without its record).
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import postgres from 'postgres';
import { REPO_ROOT } from '@/bench/load/portal';

export interface TrailCheck {
  /** audit:verify's exit code and its last line ("OK: N entries, …" or "FAILED: …"). */
  verified: boolean;
  verifyOutput: string;
  entries: number;
  /** Positions missing inside a chain, between its first and its last entry (summed over chains). */
  gaps: number;
  /** Entries that name the same predecessor as another entry of their chain (a fork). */
  forks: number;
}

export async function checkTrail(ownerUrl: string, keyFile: string, dataDir: string): Promise<TrailCheck> {
  const run = spawnSync(process.execPath, [path.join(REPO_ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), '--conditions=react-server', 'scripts/audit-verify.ts'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, DATABASE_URL: ownerUrl, VIGIL_KEY_FILE: keyFile, VIGIL_DATA_DIR: dataDir, VIGIL_LOG_LEVEL: 'silent' },
  });
  const verifyOutput = `${run.stdout}${run.stderr}`.trim().split('\n').filter(Boolean).slice(-3).join('\n');
  const sql = postgres(ownerUrl, { max: 1, onnotice: () => {} });
  try {
    const [shape] = await sql<{ entries: number; gaps: number; forks: number }[]>`
      SELECT coalesce(sum(n), 0)::int AS entries, coalesce(sum(gaps), 0)::int AS gaps, coalesce(sum(forks), 0)::int AS forks
      FROM (SELECT count(*) AS n,
                   max(chain_seq) - min(chain_seq) + 1 - count(*) AS gaps,
                   count(*) - count(DISTINCT prev_hash) AS forks
            FROM audit_log GROUP BY chain) AS per_chain`;
    return { verified: run.status === 0, verifyOutput, ...shape! };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export interface VitalsIntegrity {
  /** Vitals entries per author (user id). */
  rows: Map<string, number>;
  /** vitals.create entries in the trail per author. */
  audited: Map<string, number>;
  /** Vitals rows with no vitals.create entry naming them, or not on a sealed page. */
  unrecorded: number;
  /** vitals.create entries whose record does not exist. */
  orphanEntries: number;
}

/** Of the vitals entries written by `authors` (the seed's own entries predate the trail). */
export async function vitalsIntegrity(ownerUrl: string, authors: string[]): Promise<VitalsIntegrity> {
  const sql = postgres(ownerUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ user: string; n: number }[]>`SELECT created_by::text AS user, count(*)::int AS n FROM vitals WHERE created_by = ANY(${authors}::uuid[]) GROUP BY created_by`;
    const audited = await sql<{ user: string; n: number }[]>`
      SELECT user_id::text AS user, count(*)::int AS n FROM audit_log
      WHERE action_type = 'vitals.create' AND outcome = 'allowed' AND user_id = ANY(${authors}::uuid[]) GROUP BY user_id`;
    const [unrecorded] = await sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM vitals v
      WHERE v.created_by = ANY(${authors}::uuid[])
        AND (v.page_no IS NULL
         OR NOT EXISTS (SELECT 1 FROM chart_pages p WHERE p.patient_id = v.patient_id AND p.section = 'vitals' AND p.page_no = v.page_no)
         OR NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.action_type = 'vitals.create' AND a.outcome = 'allowed' AND a.resource_id = v.id::text))`;
    const [orphans] = await sql<{ n: number }[]>`
      SELECT count(*)::int AS n FROM audit_log a
      WHERE a.action_type = 'vitals.create' AND a.outcome = 'allowed' AND a.user_id = ANY(${authors}::uuid[])
        AND NOT EXISTS (SELECT 1 FROM vitals v WHERE v.id::text = a.resource_id)`;
    return {
      rows: new Map(rows.map((r) => [r.user, r.n])),
      audited: new Map(audited.map((r) => [r.user, r.n])),
      unrecorded: unrecorded!.n,
      orphanEntries: orphans!.n,
    };
  } finally {
    await sql.end({ timeout: 5 });
  }
}
