import 'server-only';
import { and, count, eq, isNull } from 'drizzle-orm';
import type { Db, Tx } from '@/db/client';
import { auditLog, breakGlassGrants, careTeam, sessions, userRoles, users } from '@/db/schema';
import { auditActions } from '@/lib/domain/audit/actions';
import { recordAudit } from '@/lib/platform/audit';
import { authorizationMac, type AuthorizationTable } from '@/lib/platform/integrity';

/**
 * Migration 0012 gave the authorization tables an `auth_mac` column, empty for every row already
 * stored; only this step, which has the key, can fill it. Until it has run, those rows fail their
 * check like any forged row (nobody is signed in, no role or care-team row counts), which is why
 * `npm run db:migrate`, `setup`, `seed` and `demo` run it straight after the migrations.
 *
 * It runs once per database. It MACs what the rows hold now — nothing could tell an earlier
 * direct write from a genuine one, which is why this protection starts here — and then records
 * `integrity.backfilled` in the audit trail. From then on a row without a MAC is not a legacy row
 * but a row written from outside Vigil: this step refuses to give it one (it stays untrusted, and
 * the read that meets it reports it), so nobody can insert a bare row and wait for the next upgrade
 * to launder it. The marker lives in the trail because the trail is what a database writer cannot
 * quietly edit: removing the entry breaks the chain, which `audit:verify` and the checkpoints catch.
 * Batches of BATCH rows per transaction, so it is safe to stop and run again.
 */
export interface MacBackfillOutcome {
  /** Rows given their MAC by this run, by table. */
  macked: Partial<Record<AuthorizationTable, number>>;
  /** The trail already recorded the back-fill: rows without a MAC were left untrusted. */
  alreadyDone: boolean;
  /** Rows still without a MAC afterwards (none, unless alreadyDone). */
  untrusted: number;
}

const BATCH = 500;

/** Rows without a MAC, in every authorization table. */
export async function countRowsWithoutMac(db: Db | Tx): Promise<number> {
  const counts = await Promise.all([
    db.select({ n: count() }).from(users).where(isNull(users.authMac)),
    db.select({ n: count() }).from(sessions).where(isNull(sessions.authMac)),
    db.select({ n: count() }).from(userRoles).where(isNull(userRoles.authMac)),
    db.select({ n: count() }).from(careTeam).where(isNull(careTeam.authMac)),
    db.select({ n: count() }).from(breakGlassGrants).where(isNull(breakGlassGrants.authMac)),
  ]);
  return counts.reduce((sum, [row]) => sum + Number(row?.n ?? 0), 0);
}

async function backfilledBefore(db: Db | Tx): Promise<boolean> {
  const [row] = await db.select({ seq: auditLog.seq }).from(auditLog).where(eq(auditLog.actionType, auditActions.integrity.backfilled)).limit(1);
  return Boolean(row);
}

/** One batch of one table: the rows still without a MAC get theirs; how many. */
const batches: Record<AuthorizationTable, (tx: Tx) => Promise<number>> = {
  users: async (tx) => {
    const rows = await tx.select().from(users).where(isNull(users.authMac)).limit(BATCH);
    for (const row of rows) await tx.update(users).set({ authMac: authorizationMac('users', row) }).where(and(eq(users.id, row.id), isNull(users.authMac)));
    return rows.length;
  },
  sessions: async (tx) => {
    const rows = await tx.select().from(sessions).where(isNull(sessions.authMac)).limit(BATCH);
    for (const row of rows) await tx.update(sessions).set({ authMac: authorizationMac('sessions', row) }).where(and(eq(sessions.id, row.id), isNull(sessions.authMac)));
    return rows.length;
  },
  user_roles: async (tx) => {
    const rows = await tx.select().from(userRoles).where(isNull(userRoles.authMac)).limit(BATCH);
    for (const row of rows) {
      await tx
        .update(userRoles)
        .set({ authMac: authorizationMac('user_roles', row) })
        .where(and(eq(userRoles.userId, row.userId), eq(userRoles.roleName, row.roleName), isNull(userRoles.authMac)));
    }
    return rows.length;
  },
  care_team: async (tx) => {
    const rows = await tx.select().from(careTeam).where(isNull(careTeam.authMac)).limit(BATCH);
    for (const row of rows) await tx.update(careTeam).set({ authMac: authorizationMac('care_team', row) }).where(and(eq(careTeam.id, row.id), isNull(careTeam.authMac)));
    return rows.length;
  },
  break_glass_grants: async (tx) => {
    const rows = await tx.select().from(breakGlassGrants).where(isNull(breakGlassGrants.authMac)).limit(BATCH);
    for (const row of rows) {
      await tx.update(breakGlassGrants).set({ authMac: authorizationMac('break_glass_grants', row) }).where(and(eq(breakGlassGrants.id, row.id), isNull(breakGlassGrants.authMac)));
    }
    return rows.length;
  },
};

export async function macAuthorizationRows(db: Db, onProgress?: (macked: number) => void): Promise<MacBackfillOutcome> {
  if (await backfilledBefore(db)) return { macked: {}, alreadyDone: true, untrusted: await countRowsWithoutMac(db) };
  const macked: Partial<Record<AuthorizationTable, number>> = {};
  let total = 0;
  for (const table of Object.keys(batches) as AuthorizationTable[]) {
    for (;;) {
      const n = await db.transaction((tx) => batches[table](tx));
      if (n === 0) break;
      macked[table] = (macked[table] ?? 0) + n;
      total += n;
      onProgress?.(total);
    }
  }
  await db.transaction(async (tx) => {
    await recordAudit(tx, {
      actor: { userId: null, ip: null, userAgent: 'npm run db:migrate' },
      action: auditActions.integrity.backfilled,
      resourceType: 'database',
      outcome: 'allowed',
      details: { macked },
    });
  });
  return { macked, alreadyDone: false, untrusted: 0 };
}
