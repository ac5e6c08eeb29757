/**
 * Set-up for lib/features/auth tests: a fresh database with the roles and demo/staff accounts (no
 * patients), keys in memory, and helpers to make a session and the Viewer sign-in would build.
 */
import { eq } from 'drizzle-orm';
import type { Db } from '@/db/client';
import { sessions, users } from '@/db/schema';
import { seedRolesAndUsers } from '@/db/seed';
import type { Viewer } from '@/lib/domain/access/viewer';
import { resetChainKey } from '@/lib/platform/audit/chain';
import { createSession } from '@/lib/features/credentials/sessions';
import { loadRolesAndPermissions } from '@/lib/features/credentials/users';
import { setKeyProvider } from '@/lib/platform/crypto';
import { generateKeyMaterial, StaticKeyProvider } from '@/lib/platform/crypto/key-provider';
import { createTestDatabase, type TestDatabase } from './db';

export const CLIENT = { ip: '192.0.2.10', userAgent: 'Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0 Safari/537.36' };

export async function authTestDatabase(): Promise<TestDatabase> {
  setKeyProvider(new StaticKeyProvider(generateKeyMaterial()));
  resetChainKey();
  const handle = await createTestDatabase();
  await seedRolesAndUsers(handle.db);
  return handle;
}

export async function userRow(db: Db, email: string) {
  const [row] = await db.select().from(users).where(eq(users.email, email)).limit(1);
  if (!row) throw new Error(`no user ${email}`);
  return row;
}

export async function sessionRow(db: Db, id: string) {
  const [row] = await db.select().from(sessions).where(eq(sessions.id, id)).limit(1);
  if (!row) throw new Error(`no session ${id}`);
  return row;
}

/** A session for `email` opened at `at`, and the Viewer a request on it would carry. */
export async function openSession(db: Db, email: string, at: Date): Promise<Viewer> {
  const user = await userRow(db, email);
  const session = await createSession(db, user.id, CLIENT, at);
  const { roles, permissions } = await loadRolesAndPermissions(db, user.id);
  return { userId: user.id, sessionId: session.id, email: user.email, displayName: user.displayName, roles, permissions, ...CLIENT };
}

export const minutes = (n: number) => n * 60_000;
export const later = (at: Date, ms: number) => new Date(at.getTime() + ms);
