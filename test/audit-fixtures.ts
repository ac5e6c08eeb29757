/**
 * Helpers for the audit-trail tests: append synthetic entries, read the chain back, and tamper
 * with it the way an attacker holding the table owner's rights would (switch the append-only
 * triggers off, change rows, switch them back on).
 */
import { randomUUID } from 'node:crypto';
import { asc, eq, sql } from 'drizzle-orm';
import type { Db } from '@/db/client';
import { auditLog, careTeam, users } from '@/db/schema';
import { recordAudit, type AuditEvent, type AuditRecord } from '@/lib/platform/audit';

export function syntheticEvent(i: number, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return {
    actor: { userId: randomUUID(), ip: `10.0.${(i >> 8) & 255}.${i & 255}`, userAgent: 'vitest' },
    action: 'chart.view',
    resourceType: 'patient',
    resourceId: randomUUID(),
    patientId: randomUUID(),
    outcome: 'allowed',
    details: { sections: ['demographics'], i },
    ...overrides,
  };
}

export async function appendOne(db: Db, event: AuditEvent): Promise<AuditRecord> {
  return db.transaction((tx) => recordAudit(tx, event));
}

export async function appendMany(db: Db, count: number): Promise<void> {
  for (let i = 0; i < count; i++) await appendOne(db, syntheticEvent(i));
}

export async function chainRows(db: Db) {
  return db.select().from(auditLog).orderBy(asc(auditLog.seq));
}

/** Runs statements with the append-only triggers disabled, as the table owner. */
export async function asOwnerWithoutTriggers(db: Db, statements: string[]): Promise<void> {
  await db.execute(sql.raw('ALTER TABLE audit_log DISABLE TRIGGER USER'));
  try {
    for (const statement of statements) await db.execute(sql.raw(statement));
  } finally {
    await db.execute(sql.raw('ALTER TABLE audit_log ENABLE TRIGGER USER'));
  }
}

/** An empty trail whose next entry is seq 1 again, so a test can name entries by number. */
export async function clearTrail(db: Db): Promise<void> {
  await asOwnerWithoutTriggers(db, ['DELETE FROM audit_log', `SELECT setval('audit_log_seq', 1, false)`]);
}

/**
 * Moves entries `from`.. up by `by` (seq and position together, as an attacker hiding a gap
 * would), without tripping the unique keys half-way. For a trail written in one chain.
 */
export function shiftSeqStatements(from: number, by: number): string[] {
  return [
    `UPDATE audit_log SET seq = -seq, chain_seq = -chain_seq WHERE seq >= ${from}`,
    `UPDATE audit_log SET seq = -seq + ${by}, chain_seq = -chain_seq + ${by} WHERE seq < 0`,
  ];
}

/** Exchanges the positions of two entries of a trail written in one chain. */
export function swapSeqStatements(a: number, b: number): string[] {
  return [
    `UPDATE audit_log SET seq = -1, chain_seq = -1 WHERE seq = ${a}`,
    `UPDATE audit_log SET seq = ${a}, chain_seq = ${a} WHERE seq = ${b}`,
    `UPDATE audit_log SET seq = ${b}, chain_seq = ${b} WHERE seq = -1`,
  ];
}

/** The patients on a user's care team, in a stable order. */
export async function careTeamOf(db: Db, email: string): Promise<string[]> {
  const rows = await db
    .select({ patientId: careTeam.patientId })
    .from(careTeam)
    .innerJoin(users, eq(users.id, careTeam.userId))
    .where(eq(users.email, email))
    .orderBy(asc(careTeam.patientId));
  return rows.map((r) => r.patientId);
}
