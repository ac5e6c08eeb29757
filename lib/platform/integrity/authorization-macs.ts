import 'server-only';
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import { eq, sql, type SQL } from 'drizzle-orm';
import type { Queryable } from '@/db/client';
import { breakGlassGrants, careTeam, sessions, userRoles, users } from '@/db/schema';
import { getKeyProvider, type KeyProvider } from '@/lib/platform/crypto';
import { reportTampering } from '@/lib/platform/integrity/report';

/**
 * The rows that decide who may do what — sessions, users, their roles, care-team rows and
 * break-glass grants — carry a keyed MAC (`auth_mac`) over their security-relevant columns, so
 * that whoever holds the app's own database role cannot extend a session, un-revoke it, clear a
 * user's `disabled_at`, copy a password hash, add a role or a care-team row, or extend a grant or
 * mark it reviewed without the change showing. The key is derived from the key provider's system
 * key (never stored in the database), so only Vigil can write a MAC the check accepts.
 *
 * A row whose MAC does not match — or has none — is treated as absent by the read that found it
 * (no session, no role, no care-team row, no grant, the user disabled) and reported once per process
 * and tampered state through reportTampering, which the monitor turns into a HIGH case.
 *
 * What a MAC cannot see: a row put back, whole, to a state Vigil once wrote (a revoked session
 * restored with the MAC it had while live, a removed role re-inserted with its old MAC). That is a
 * rollback of the row, caught only by something outside it: the audit trail records every
 * revocation, role change and care-team change, and its checkpoints survive the database.
 */
export type AuthorizationTable = 'users' | 'sessions' | 'user_roles' | 'care_team' | 'break_glass_grants';

type UserRow = typeof users.$inferSelect;
type SessionRow = typeof sessions.$inferSelect;
type UserRoleRow = typeof userRoles.$inferSelect;
type CareTeamRow = typeof careTeam.$inferSelect;
type GrantRow = typeof breakGlassGrants.$inferSelect;

/** The columns each MAC covers: what a check reads to decide, nothing that changes on its own (counters, display names). */
export type UserMacFields = Pick<UserRow, 'id' | 'email' | 'passwordHash' | 'passwordChangedAt' | 'sealedTotpSecret' | 'totpEnabledAt' | 'disabledAt' | 'oidcIssuer' | 'oidcSubject'>;
export type SessionMacFields = Pick<SessionRow, 'id' | 'userId' | 'expiresAt' | 'lastSeenAt' | 'revokedAt' | 'reauthenticatedAt' | 'factorVerifiedAt' | 'signInMethod'>;
export type UserRoleMacFields = Pick<UserRoleRow, 'userId' | 'roleName'>;
export type CareTeamMacFields = Pick<CareTeamRow, 'id' | 'patientId' | 'userId' | 'relationship' | 'untilAt'>;
export type GrantMacFields = Pick<GrantRow, 'id' | 'userId' | 'patientId' | 'sessionId' | 'expiresAt' | 'endedAt' | 'reviewStatus' | 'reviewerId' | 'reviewedAt'>;

interface MacFields {
  users: UserMacFields;
  sessions: SessionMacFields;
  user_roles: UserRoleMacFields;
  care_team: CareTeamMacFields;
  break_glass_grants: GrantMacFields;
}
type Value = string | Date | null;
type Stored<T extends AuthorizationTable> = MacFields[T] & { authMac: string | null };

/** Per table: the covered values in a fixed order, the row's key as the report names it, and whose access and which patient it concerns. */
const specs: { [T in AuthorizationTable]: { values(row: MacFields[T]): Value[]; rowId(row: MacFields[T]): string; subject(row: MacFields[T]): string; patient?(row: MacFields[T]): string } } = {
  users: {
    values: (r) => [r.id, r.email, r.passwordHash, r.passwordChangedAt, r.sealedTotpSecret, r.totpEnabledAt, r.disabledAt, r.oidcIssuer, r.oidcSubject],
    rowId: (r) => r.id,
    subject: (r) => r.id,
  },
  sessions: {
    values: (r) => [r.id, r.userId, r.expiresAt, r.lastSeenAt, r.revokedAt, r.reauthenticatedAt, r.factorVerifiedAt, r.signInMethod],
    rowId: (r) => r.id,
    subject: (r) => r.userId,
  },
  user_roles: { values: (r) => [r.userId, r.roleName], rowId: (r) => `${r.userId}/${r.roleName}`, subject: (r) => r.userId },
  care_team: {
    values: (r) => [r.id, r.patientId, r.userId, r.relationship, r.untilAt],
    rowId: (r) => r.id,
    subject: (r) => r.userId,
    patient: (r) => r.patientId,
  },
  break_glass_grants: {
    values: (r) => [r.id, r.userId, r.patientId, r.sessionId, r.expiresAt, r.endedAt, r.reviewStatus, r.reviewerId, r.reviewedAt],
    rowId: (r) => r.id,
    subject: (r) => r.userId,
    patient: (r) => r.patientId,
  },
};

/** The columns to select wherever a read decides on a row, so the check has every covered value. */
export const macColumns = {
  users: { id: users.id, email: users.email, passwordHash: users.passwordHash, passwordChangedAt: users.passwordChangedAt, sealedTotpSecret: users.sealedTotpSecret, totpEnabledAt: users.totpEnabledAt, disabledAt: users.disabledAt, oidcIssuer: users.oidcIssuer, oidcSubject: users.oidcSubject, authMac: users.authMac },
  sessions: { id: sessions.id, userId: sessions.userId, expiresAt: sessions.expiresAt, lastSeenAt: sessions.lastSeenAt, revokedAt: sessions.revokedAt, reauthenticatedAt: sessions.reauthenticatedAt, factorVerifiedAt: sessions.factorVerifiedAt, signInMethod: sessions.signInMethod, authMac: sessions.authMac },
  user_roles: { userId: userRoles.userId, roleName: userRoles.roleName, authMac: userRoles.authMac },
  care_team: { id: careTeam.id, patientId: careTeam.patientId, userId: careTeam.userId, relationship: careTeam.relationship, untilAt: careTeam.untilAt, authMac: careTeam.authMac },
  break_glass_grants: { id: breakGlassGrants.id, userId: breakGlassGrants.userId, patientId: breakGlassGrants.patientId, sessionId: breakGlassGrants.sessionId, expiresAt: breakGlassGrants.expiresAt, endedAt: breakGlassGrants.endedAt, reviewStatus: breakGlassGrants.reviewStatus, reviewerId: breakGlassGrants.reviewerId, reviewedAt: breakGlassGrants.reviewedAt, authMac: breakGlassGrants.authMac },
} as const;

/** The covered user columns a new account starts without, for inserts to spread before their own values. */
export const unsetUserMacFields = {
  passwordChangedAt: null,
  sealedTotpSecret: null,
  totpEnabledAt: null,
  disabledAt: null,
  oidcIssuer: null,
  oidcSubject: null,
} satisfies Partial<UserMacFields>;

const KEY_LABEL = 'vigil-authorization-mac-v1';
/** Derived once per provider (one HMAC per row read is the whole cost), and never from a stale provider after a swap. */
let keys = new WeakMap<KeyProvider, Buffer>();
function macKey(): Buffer {
  const provider = getKeyProvider();
  let key = keys.get(provider);
  if (!key) keys.set(provider, (key = Buffer.from(hkdfSync('sha256', provider.systemKey(), Buffer.alloc(0), KEY_LABEL, 32))));
  return key;
}

/** For tests that replace the key material inside one provider object. */
export function resetAuthorizationMacKey(): void {
  keys = new WeakMap();
}

/**
 * The canonical text a MAC covers: the table's name, then each covered value as JSON (timestamps
 * as ISO text, which PostgreSQL gives back to the millisecond Vigil wrote), in a fixed order. A
 * JSON array cannot be read two ways, so no two rows share a text.
 */
function canonical<T extends AuthorizationTable>(table: T, row: MacFields[T]): string {
  return JSON.stringify([table, ...specs[table].values(row).map((v) => (v instanceof Date ? v.toISOString() : v))]);
}

export function authorizationMac<T extends AuthorizationTable>(table: T, row: MacFields[T]): string {
  return hmacOf(macKey(), canonical(table, row));
}

const hmacOf = (key: Buffer, text: string) => createHmac('sha256', key).update(text, 'utf8').digest('base64url');

/**
 * The canonical texts whose stored MAC matched, with that MAC, under the key they were checked
 * with. A clinician's list reads thousands of care-team rows on every request, and an HMAC per
 * row was a sixth of its CPU. A hit is a text already found to carry exactly this MAC under this
 * key, so it answers as the HMAC would: a changed column is another text, a changed MAC misses,
 * a new key empties it. Only matches are kept, so a forged row never reaches the comparison a hit
 * makes (and learns nothing from its timing: the MAC it would be compared with is already stored).
 */
const MATCHED_MAX = 50_000;
const matched = new Map<string, string>();
let matchedUnder: Buffer | undefined;

function macMatches<T extends AuthorizationTable>(table: T, row: Stored<T>): { ok: boolean; expected: string } {
  const key = macKey();
  if (matchedUnder !== key) {
    matched.clear();
    matchedUnder = key;
  }
  const text = canonical(table, row);
  if (row.authMac !== null && matched.get(text) === row.authMac) return { ok: true, expected: row.authMac };
  const expected = hmacOf(key, text);
  if (row.authMac === null) return { ok: false, expected };
  const a = Buffer.from(expected);
  const b = Buffer.from(row.authMac);
  const ok = a.length === b.length && timingSafeEqual(a, b);
  if (ok) {
    const oldest = matched.size >= MATCHED_MAX ? matched.keys().next() : undefined;
    if (oldest && !oldest.done) matched.delete(oldest.value);
    matched.set(text, expected);
  }
  return { ok, expected };
}

/** A row ready to insert, with its MAC over the values it will be stored with. */
export function withMac<T extends AuthorizationTable, R extends MacFields[T]>(table: T, row: R): R & { authMac: string } {
  return { ...row, authMac: authorizationMac(table, row) };
}

/**
 * Which tampered states this process has reported: a row read on every request is reported once,
 * not once per request; a further change to it is a new state and is reported again. Bounded, so
 * a flood of forged rows cannot grow it without end (the oldest are forgotten, and reported again).
 */
const reported = new Set<string>();
const REPORTED_MAX = 10_000;

/**
 * Whether a stored row is intact. A row that is not is reported (in a savepoint of the caller's
 * transaction, or a transaction of its own) and the caller treats it as absent.
 */
export async function intactRow<T extends AuthorizationTable>(q: Queryable, table: T, row: Stored<T>): Promise<boolean> {
  const { ok, expected } = macMatches(table, row);
  if (ok) return true;
  const spec = specs[table];
  const rowId = spec.rowId(row);
  const state = `${table}/${rowId}/${row.authMac}/${expected}`;
  if (!reported.has(state)) {
    await q.transaction((tx) =>
      reportTampering(tx, { table, rowId, subjectUserId: spec.subject(row), patientId: spec.patient?.(row) ?? null, what: row.authMac === null ? 'authorization_mac_missing' : 'authorization_mac' }),
    );
    if (reported.size >= REPORTED_MAX) reported.delete(reported.values().next().value!);
    reported.add(state);
  }
  return false;
}

/** The intact rows of a read, in order; the others are reported and left out. */
export async function intactRows<T extends AuthorizationTable, R extends Stored<T>>(q: Queryable, table: T, rows: R[]): Promise<R[]> {
  return (await checkedRows(q, table, rows)).filter((c) => c.intact).map((c) => c.row);
}

/** The roles a user holds, sorted: a role row that fails its MAC is no role (and is reported). */
export async function heldRoleNames(q: Queryable, userId: string): Promise<string[]> {
  const rows = await intactRows(q, 'user_roles', await q.select(macColumns.user_roles).from(userRoles).where(eq(userRoles.userId, userId)));
  return rows.map((r) => r.roleName).sort();
}

/**
 * Every row of a read, each with whether it is intact, for the lists that must show every row —
 * a reviewer's queue, an administrator's directory — yet never present a tampered one as genuine.
 * The ones that fail are reported as any read's are; what to show in their place is the caller's.
 */
export async function checkedRows<T extends AuthorizationTable, R extends Stored<T>>(q: Queryable, table: T, rows: R[]): Promise<Array<{ row: R; intact: boolean }>> {
  const checked: Array<{ row: R; intact: boolean }> = [];
  // Intact rows are settled here, without a turn of the event loop each (thousands on a caseload's list).
  for (const row of rows) checked.push({ row, intact: macMatches(table, row).ok || (await intactRow(q, table, row)) });
  return checked;
}

const updatable = { users, sessions, care_team: careTeam, break_glass_grants: breakGlassGrants } as const;
type UpdatableTable = keyof typeof updatable;
interface FullRows {
  users: UserRow;
  sessions: SessionRow;
  care_team: CareTeamRow;
  break_glass_grants: GrantRow;
}
type Changes<T extends UpdatableTable> = Partial<Omit<(typeof updatable)[T]['$inferInsert'], 'id' | 'authMac'>>;

/**
 * The one way a covered row is changed: each matching row is read under a row lock and checked,
 * then written with the change and a MAC over the result. A row that was already tampered with is
 * reported and keeps the MAC it had, so it stays untrusted: a later legitimate write (disabling
 * the account, ending the grant) never launders what someone else wrote into it. Returns the rows
 * as written.
 */
export async function updateWithMac<T extends UpdatableTable>(q: Queryable, name: T, where: SQL | undefined, changes: Changes<T>): Promise<Array<FullRows[T]>> {
  // The four tables share a uuid `id` primary key; drizzle cannot type a call over their union.
  const table = updatable[name] as typeof sessions;
  const rows = (await q.select().from(table).where(where).for('update')) as unknown as Array<FullRows[T]>;
  const written: Array<FullRows[T]> = [];
  for (const row of rows) {
    const intact = await intactRow(q, name, row as Stored<T>);
    const next = { ...row, ...changes } as FullRows[T];
    const authMac = intact ? authorizationMac(name, next as MacFields[T]) : row.authMac;
    await q.update(table).set({ ...(changes as Changes<'sessions'>), authMac }).where(eq(table.id, row.id));
    written.push({ ...next, authMac });
  }
  return written;
}

/**
 * Role rows with their MACs. A row already there (one that failed its check, say) is written over
 * with the MAC: the role is being granted now, by someone entitled to, so the row is true again.
 */
export async function insertRoleRows(q: Queryable, rows: Array<Pick<UserRoleRow, 'userId' | 'roleName'> & Partial<Pick<UserRoleRow, 'grantedBy' | 'grantedAt'>>>): Promise<void> {
  if (rows.length === 0) return;
  await q
    .insert(userRoles)
    .values(rows.map((row) => withMac('user_roles', row)))
    .onConflictDoUpdate({
      target: [userRoles.userId, userRoles.roleName],
      set: { authMac: sql.raw(`excluded.${userRoles.authMac.name}`), grantedBy: sql.raw(`excluded.${userRoles.grantedBy.name}`), grantedAt: sql.raw(`excluded.${userRoles.grantedAt.name}`) },
    });
}
