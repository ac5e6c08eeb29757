import { eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { auditLog, userRoles, users } from '@/db/schema';
import { auditActions } from '@/lib/domain/audit/actions';
import { createFirstAdministrator } from '@/lib/ops/setup/first-admin';
import { gateViewer, MFA_ENROLMENT_PATH, PASSWORD_CHANGE_PATH, resolveViewerState } from '@/lib/features/auth/viewer-state';
import { changeOwnPassword } from '@/lib/features/auth/password-change';
import { signInWithPassword } from '@/lib/features/auth/login';
import { testDatabase } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';

let handle: TestDatabase;
beforeAll(async () => {
  handle = await testDatabase({ empty: true });
});
afterAll(async () => {
  await handle?.close();
});
afterEach(() => {
  vi.unstubAllEnvs();
});

const client = { ip: '192.0.2.80', userAgent: 'vitest' };

describe('npm run setup: the first administrator', () => {
  it('refuses demo addresses and missing details, creating nothing', async () => {
    expect(await createFirstAdministrator(handle.db, { email: 'admin@vigil.test', displayName: 'A' })).toMatchObject({ ok: false, error: 'invalid' });
    expect(await createFirstAdministrator(handle.db, { email: 'it.admin@hospital.example' })).toMatchObject({ ok: false, error: 'invalid' });
    expect(await handle.db.select().from(users)).toEqual([]);
  });

  it('makes exactly one admin, audited, whose first sign-in forces a new password, then MFA enrolment', async () => {
    vi.stubEnv('VIGIL_MODE', 'production');
    const made = await createFirstAdministrator(handle.db, { email: 'IT.Admin@hospital.example', displayName: 'Pat Admin' });
    if (!made.ok) throw new Error(made.message);
    expect(made.value.oneTimePassword.length).toBeGreaterThanOrEqual(24);
    const again = await createFirstAdministrator(handle.db, { email: 'second.admin@hospital.example', displayName: 'Sam Admin' });
    expect(again).toMatchObject({ ok: false, error: 'admin_exists' });
    expect(await handle.db.select().from(userRoles).where(eq(userRoles.roleName, 'admin'))).toHaveLength(1);
    const [row] = await handle.db.select().from(users).where(eq(users.id, made.value.id));
    expect(row).toMatchObject({ email: 'it.admin@hospital.example', passwordChangedAt: null, totpEnabledAt: null });
    expect(row!.passwordHash).not.toContain(made.value.oneTimePassword);
    const [entry] = await handle.db.select().from(auditLog).where(eq(auditLog.actionType, auditActions.user.firstAdmin));
    expect(entry).toMatchObject({ resourceId: made.value.id, outcome: 'allowed' });

    // First sign-in: the session opens only MFA enrolment (production: admins always need a second factor).
    const signedIn = await signInWithPassword({ email: 'it.admin@hospital.example', password: made.value.oneTimePassword }, client);
    if (!signedIn.ok) throw new Error(signedIn.message);
    const first = await resolveViewerState(handle.db, signedIn.sessionId, client);
    expect(first).toMatchObject({ passwordChangePending: true, mfaEnrolmentPending: true });
    expect(gateViewer(first)).toEqual({ allow: false, redirectTo: PASSWORD_CHANGE_PATH });
    expect(gateViewer(first, { allowPendingPassword: true })).toMatchObject({ allow: true });
    if (!first.viewer) throw new Error('no viewer');

    const wrong = await changeOwnPassword(first.viewer, { current: 'not-the-password', password: 'A-new-password-2026', passwordConfirm: 'A-new-password-2026' });
    expect(wrong).toMatchObject({ ok: false });
    const mismatch = await changeOwnPassword(first.viewer, { current: made.value.oneTimePassword, password: 'A-new-password-2026', passwordConfirm: 'Another-one-2026' });
    expect(mismatch).toMatchObject({ ok: false, error: 'invalid' });
    const changed = await changeOwnPassword(first.viewer, { current: made.value.oneTimePassword, password: 'A-new-password-2026', passwordConfirm: 'A-new-password-2026' });
    expect(changed).toMatchObject({ ok: true });
    const second = await resolveViewerState(handle.db, signedIn.sessionId, client);
    expect(second).toMatchObject({ passwordChangePending: false, mfaEnrolmentPending: true });
    expect(gateViewer(second)).toEqual({ allow: false, redirectTo: MFA_ENROLMENT_PATH });
    const changes = await handle.db.select().from(auditLog).where(eq(auditLog.actionType, auditActions.auth.passwordChange));
    expect(changes.map((e) => e.outcome).sort()).toEqual(['allowed', 'denied']);

    // The demo's admin needs no second factor: the same account in demo mode is not held.
    vi.stubEnv('VIGIL_MODE', 'demo');
    expect(await resolveViewerState(handle.db, signedIn.sessionId, client)).toMatchObject({ mfaEnrolmentPending: false, passwordChangePending: false });
  });
});
