/**
 * Apps an admin registers: EHR launch from the chart (the `launch` value names the chart's
 * patient), refresh tokens only with `offline_access`, rotated, revocable and ending with the
 * Vigil session, and registration itself (audited, scopes cut to the registration).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { and, eq, gt } from 'drizzle-orm';
import { auditLog, careTeam } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { endSession } from '@/lib/features/auth/sign-out';
import { launchableApps, launchApp } from '@/lib/features/fhir/launch';
import { registerSmartApp, revokeSmartApp } from '@/lib/features/fhir/registry';
import { auditHead, PATIENTS_WITH_STRANGERS, patientOnTeamOf, strangerPatients, testDatabase, viewer as signIn } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';
import { authorizeApp, BASE, codeForm, get, oauth, pkce, tokenRequest } from '@/test/fhir';

const CLIENT = 'chart-launch-app';
const REDIRECT = 'https://apps.test/growth/callback';
let handle: TestDatabase;
let admin: Viewer;
let physician: Viewer;
let patientA: string;
let patientB: string;

async function connect(viewer: Viewer, scope: string, { launch, patient = null }: { launch?: string; patient?: string | null } = {}) {
  const { verifier, challenge } = pkce();
  const approved = await authorizeApp(viewer, { clientId: CLIENT, redirectUri: REDIRECT, scope, state: 's1', challenge, patient, launch });
  if (!approved.ok) return approved;
  const code = new URL(approved.value.redirectTo).searchParams.get('code')!;
  return { ok: true as const, token: await tokenRequest(codeForm(code, verifier, CLIENT, REDIRECT)) };
}

const refresh = (token: unknown) => tokenRequest(new URLSearchParams({ grant_type: 'refresh_token', refresh_token: String(token), client_id: CLIENT }));
/** RFC 7009 revocation, as the app posts it. */
const revoke = async (token: string) => {
  const answer = await oauth('POST', '/oauth/revoke', { form: new URLSearchParams({ token, client_id: CLIENT }) });
  return { status: answer.status, body: await answer.json().catch(() => ({})) };
};
const reasons = async (since: number, action: string) =>
  (await handle.db.select().from(auditLog).where(and(gt(auditLog.seq, since), eq(auditLog.actionType, action), eq(auditLog.outcome, 'denied')))).map((e) => (e.details as { reason: string }).reason);

beforeAll(async () => {
  handle = await testDatabase({ patients: PATIENTS_WITH_STRANGERS });
  admin = await signIn(handle.db, 'admin@vigil.test');
  physician = await signIn(handle.db, 'physician@vigil.test');
  patientA = await patientOnTeamOf(handle.db, physician.userId);
  const team = await handle.db.select({ patientId: careTeam.patientId }).from(careTeam).where(eq(careTeam.userId, physician.userId));
  patientB = team.map((t) => t.patientId).find((id) => id !== patientA)!;
  const registered = await registerSmartApp(admin, {
    clientId: CLIENT,
    name: 'Growth chart',
    redirectUris: `${REDIRECT}\n`,
    launchUrl: 'https://apps.test/growth/launch',
    scopes: ['launch', 'launch/patient', 'patient/*.rs', 'offline_access'],
  });
  if (!registered.ok) throw new Error(`${registered.message} ${JSON.stringify(registered.fieldErrors)}`);
});

describe('registration', () => {
  it('is audited without PHI, refused for a non-admin, and a request is cut to the registered scopes', async () => {
    const [entry] = await handle.db.select().from(auditLog).where(and(eq(auditLog.actionType, 'smart.app_register'), eq(auditLog.resourceId, CLIENT)));
    expect(entry).toMatchObject({ outcome: 'allowed', userId: admin.userId });
    expect(await registerSmartApp(physician, { clientId: 'rogue-app', name: 'Rogue', redirectUris: 'https://rogue.test/cb', scopes: ['user/*.rs'] })).toMatchObject({ ok: false, error: 'denied' });
    expect(await registerSmartApp(admin, { clientId: CLIENT, name: 'Again', redirectUris: 'https://x.test/cb', scopes: ['user/*.rs'] })).toMatchObject({ ok: false, error: 'duplicate' });
    expect(await registerSmartApp(admin, { clientId: 'bad-uri', name: 'Bad URI', redirectUris: 'javascript:alert(1)', scopes: ['user/*.rs'] })).toMatchObject({ ok: false, error: 'invalid', fieldErrors: { redirectUris: expect.any(String) } });
    // user/*.rs is not registered for this app: the token gets patient scopes only.
    const connected = await connect(physician, 'launch/patient patient/*.rs user/*.rs', { patient: patientA });
    expect(connected.ok && connected.token.body.scope).toBe('launch/patient patient/*.rs');
  });
});

describe('EHR launch from the chart', () => {
  it('the chart offers the app; the launch names the chart’s patient whatever the form says', async () => {
    expect(await launchableApps()).toContainEqual({ clientId: CLIENT, name: 'Growth chart' });
    const launched = await launchApp(physician, { clientId: CLIENT, patientId: patientA, fhirBase: BASE });
    expect(launched.ok).toBe(true);
    const target = new URL(launched.ok ? launched.value.redirectTo : '');
    expect(target.origin + target.pathname).toBe('https://apps.test/growth/launch');
    expect(target.searchParams.get('iss')).toBe(BASE);
    const launch = target.searchParams.get('launch')!;

    const connected = await connect(physician, 'launch patient/*.rs', { launch, patient: patientB });
    expect(connected.ok && connected.token.body).toMatchObject({ patient: patientA, scope: 'launch launch/patient patient/*.rs' });
    const token = String(connected.ok && connected.token.body.access_token);
    expect((await get(token, `Patient/${patientA}`)).status).toBe(200);
    expect((await get(token, `Patient/${patientB}`)).status).toBe(404);
  });

  it('a launch from another sign-in is refused; a chart the user may not open cannot be launched on', async () => {
    const launched = await launchApp(physician, { clientId: CLIENT, patientId: patientA, fhirBase: BASE });
    const launch = new URL(launched.ok ? launched.value.redirectTo : 'http://x').searchParams.get('launch')!;
    const otherSignIn = await signIn(handle.db, 'physician@vigil.test');
    expect(await connect(otherSignIn, 'launch patient/*.rs', { launch })).toMatchObject({ ok: false, error: 'invalid' });
    const [stranger] = await strangerPatients(handle.db);
    const since = await auditHead(handle.db);
    expect(await launchApp(physician, { clientId: CLIENT, patientId: stranger!, fhirBase: BASE })).toMatchObject({ ok: false });
    expect(await reasons(since, 'smart.launch')).toEqual(['no_relationship']);
  });
});

describe('refresh tokens', () => {
  it('only with offline_access; each one works once, and a reused one ends the whole family', async () => {
    const without = await connect(physician, 'launch/patient patient/*.rs', { patient: patientA });
    expect(without.ok && without.token.body.refresh_token).toBeUndefined();

    const connected = await connect(physician, 'launch/patient patient/*.rs offline_access', { patient: patientA });
    const first = connected.ok ? connected.token.body.refresh_token : null;
    expect(first).toEqual(expect.any(String));
    const second = await refresh(first);
    expect(second).toMatchObject({ status: 200, body: { token_type: 'Bearer', patient: patientA, refresh_token: expect.any(String) } });
    expect((await get(String(second.body.access_token), `Patient/${patientA}`)).status).toBe(200);

    const since = await auditHead(handle.db);
    expect(await refresh(first)).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await refresh(second.body.refresh_token)).toMatchObject({ status: 400 });
    expect(await reasons(since, 'smart.refresh')).toEqual(['refresh_reused', 'refresh_revoked']);
  });

  it('ends with the Vigil session, and when the app revokes it (RFC 7009)', async () => {
    const session = await signIn(handle.db, 'physician@vigil.test');
    const connected = await connect(session, 'launch/patient patient/*.rs offline_access', { patient: patientA });
    const token = connected.ok ? connected.token.body.refresh_token : null;
    await endSession(session);
    const since = await auditHead(handle.db);
    expect((await refresh(token)).status).toBe(400);
    expect(await reasons(since, 'smart.refresh')).toEqual(['session_revoked']);

    const kept = await connect(physician, 'launch/patient patient/*.rs offline_access', { patient: patientA });
    const revocable = kept.ok ? String(kept.token.body.refresh_token) : '';
    const access = kept.ok ? String(kept.token.body.access_token) : '';
    expect((await get(access, `Patient/${patientA}`)).status).toBe(200);
    expect(await revoke(revocable)).toEqual({ status: 200, body: {} });
    expect(await revoke('x'.repeat(43))).toEqual({ status: 200, body: {} });
    expect((await refresh(revocable)).status).toBe(400);
    // The grant's access token ends with it, minutes before its JWT would expire.
    const refusedSince = await auditHead(handle.db);
    expect(await get(access, `Patient/${patientA}`)).toMatchObject({ status: 401, body: { resourceType: 'OperationOutcome' } });
    expect(await reasons(refusedSince, 'fhir.refused')).toEqual(['grant_revoked']);
  });

  it('revoking the app in the admin UI ends its refresh and access tokens', async () => {
    const connected = await connect(physician, 'launch/patient patient/*.rs offline_access', { patient: patientA });
    const body = connected.ok ? connected.token.body : {};
    expect(await revokeSmartApp(await signIn(handle.db, 'admin@vigil.test'), { clientId: CLIENT })).toMatchObject({ ok: true });
    expect((await get(String(body.access_token), `Patient/${patientA}`)).status).toBe(401);
    // The app itself is gone: its refresh token is refused as from an unknown client (RFC 6749 §5.2), and audited.
    const since = await auditHead(handle.db);
    expect(await refresh(body.refresh_token)).toMatchObject({ status: 401, body: { error: 'invalid_client' } });
    expect(await reasons(since, 'smart.refresh')).toEqual(['app_revoked']);
    expect(await launchableApps()).not.toContainEqual({ clientId: CLIENT, name: 'Growth chart' });
  });
});
