/**
 * SMART authorization: the code + PKCE flow through approveApp and the token endpoint, the ID
 * token of `openid fhirUser` and the Practitioner it names, and every way a token must stop
 * working — each refused with an OperationOutcome (or an OAuth error at the token endpoint) and
 * audited. Last, a bulk pull through the API trips monitoring as in the portal.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { and, eq, gt } from 'drizzle-orm';
import { createLocalJWKSet, decodeJwt, jwtVerify } from 'jose';
import { auditLog, careTeam, incidents, users } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { endSession } from '@/lib/features/auth/sign-out';
import { sessionPolicy } from '@/lib/features/credentials/config';
import { auditHead, createStaff, later, minutes, patientOnTeamOf, testDatabase, viewer as signIn } from '@/test/fixtures';
import { demoCaseload } from '@/db/seed';
import type { TestDatabase } from '@/test/db';
import { corsHeadersFor } from '@/lib/features/fhir/apps';
import { APP, APP_REDIRECT, authorizeApp, BASE, codeForm, expectValid, get, oauth, pkce, tokenFor, tokenRequest } from '@/test/fhir';

let handle: TestDatabase;
let physician: Viewer;
let patientA: string;
let patientB: string;

const refusalSince = async (since: number, action = 'fhir.refused') =>
  handle.db.select().from(auditLog).where(and(gt(auditLog.seq, since), eq(auditLog.actionType, action)));

beforeAll(async () => {
  handle = await testDatabase({ patients: demoCaseload.billing });
  physician = await signIn(handle.db, 'physician@vigil.test');
  patientA = await patientOnTeamOf(handle.db, physician.userId);
  const team = await handle.db.select({ patientId: careTeam.patientId }).from(careTeam).where(eq(careTeam.userId, physician.userId));
  patientB = team.map((t) => t.patientId).find((id) => id !== patientA)!;
});

const authorize = (viewer: Viewer, scope: string, patient: string | null, challenge: string) => authorizeApp(viewer, { scope, patient, challenge });

/** The code of one authorization with these scopes, and the token response it is exchanged for. */
async function exchange(viewer: Viewer, scope: string) {
  const { verifier, challenge } = pkce();
  const approved = await authorize(viewer, scope, null, challenge);
  const code = new URL(approved.ok ? approved.value.redirectTo : 'http://x').searchParams.get('code')!;
  return { code, verifier, issued: await tokenRequest(codeForm(code, verifier)) };
}

describe('authorization code with PKCE', () => {
  it('launch/patient: the token reads the chosen patient only; the code works once', async () => {
    const { verifier, challenge } = pkce();
    const approved = await authorize(physician, 'launch/patient patient/*.rs', patientA, challenge);
    expect(approved.ok).toBe(true);
    const redirect = new URL(approved.ok ? approved.value.redirectTo : '');
    expect(redirect.origin + redirect.pathname).toBe(APP_REDIRECT);
    expect(redirect.searchParams.get('state')).toBe('state-123');
    const code = redirect.searchParams.get('code')!;

    const issued = await tokenRequest(codeForm(code, verifier));
    expect(issued).toMatchObject({ status: 200, body: { token_type: 'Bearer', patient: patientA, scope: 'launch/patient patient/*.rs' } });
    const token = String(issued.body.access_token);
    const own = await get(token, `Patient/${patientA}`);
    expect(own.status).toBe(200);
    expectValid(own.body);
    // patientB is on the physician's care team, but outside this token's launch patient.
    const since = await auditHead(handle.db);
    expect((await get(token, `Patient/${patientB}`)).status).toBe(404);
    expect(await refusalSince(since, 'fhir.read')).toMatchObject([{ outcome: 'denied', details: { reason: 'outside_scope' } }]);

    const replaySince = await auditHead(handle.db);
    const replay = await tokenRequest(codeForm(code, verifier));
    expect(replay).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await refusalSince(replaySince, 'smart.token')).toMatchObject([{ outcome: 'denied', details: { reason: 'code_replayed' } }]);
  });

  it('a wrong PKCE verifier, an unregistered redirect and an expired code are refused and audited', async () => {
    const { challenge } = pkce();
    const approved = await authorize(physician, 'user/*.rs', null, challenge);
    const code = new URL(approved.ok ? approved.value.redirectTo : '').searchParams.get('code')!;
    const since = await auditHead(handle.db);
    expect(await tokenRequest(codeForm(code, pkce().verifier))).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await tokenRequest(codeForm(code, 'x'.repeat(43)), later(new Date(), minutes(2)))).toMatchObject({ status: 400 });
    expect((await refusalSince(since, 'smart.token')).map((e) => (e.details as { reason: string }).reason).sort()).toEqual(['bad_code', 'pkce_failed']);
    // Another server as `aud`, or an unregistered redirect URI, never reaches the consent page: the provider refuses them.
    const query = new URLSearchParams({ response_type: 'code', client_id: 'test-app', redirect_uri: APP_REDIRECT, scope: 'user/*.rs', state: 's', aud: 'http://elsewhere.test/fhir/R4', code_challenge: challenge, code_challenge_method: 'S256' });
    const otherAudience = await oauth('GET', `/oauth/authorize?${query}`);
    expect(otherAudience.headers.get('location') ?? '').not.toMatch(/\/consent$/);
    expect(new URL(otherAudience.headers.get('location') ?? 'http://x').searchParams.get('error')).toBe('invalid_request');
    const elsewhere = await authorizeApp(physician, { scope: 'user/*.rs', challenge, redirectUri: 'http://evil.test/callback' });
    expect(elsewhere.ok).toBe(false);
  });
});

describe('ID tokens (openid fhirUser)', () => {
  it('an ID token signed with the published key, for the app, naming the user’s Practitioner, which the API answers for them alone', async () => {
    const { issued } = await exchange(physician, 'openid fhirUser user/*.rs');
    expect(issued).toMatchObject({ status: 200, body: { scope: 'openid fhirUser user/*.rs', id_token: expect.any(String) } });
    const jwks = createLocalJWKSet(await (await oauth('GET', '/oauth/jwks')).json());
    const { payload, protectedHeader } = await jwtVerify(String(issued.body.id_token), jwks, { issuer: BASE, audience: APP, algorithms: ['ES256'] });
    const fhirUser = `${BASE}/Practitioner/${physician.userId}`;
    expect(protectedHeader.alg).toBe('ES256');
    expect(payload).toMatchObject({ sub: physician.userId, fhirUser });

    const token = String(issued.body.access_token);
    const since = await auditHead(handle.db);
    const own = await get(token, fhirUser.slice(BASE.length + 1));
    expect(own).toMatchObject({ status: 200, body: { resourceType: 'Practitioner', id: physician.userId, name: [{ text: physician.displayName }] } });
    expectValid(own.body);
    // Name and role words: nothing else of the user, nothing of any patient.
    expect(Object.keys(own.body).sort()).toEqual(['active', 'id', 'identifier', 'name', 'qualification', 'resourceType']);
    const other = (await signIn(handle.db, 'nurse@vigil.test')).userId;
    const elsewhere = await get(token, `Practitioner/${other}`);
    expect(elsewhere).toMatchObject({ status: 404, body: { resourceType: 'OperationOutcome' } });
    const entries = await refusalSince(since, 'fhir.self_read');
    expect(entries.map((e) => [e.outcome, e.userId, (e.details as { reason?: string }).reason ?? null])).toEqual([
      ['allowed', physician.userId, null],
      ['denied', physician.userId, 'not_found'],
    ]);
  });

  it('without openid no ID token; openid alone names only `sub`, and its token reads no Practitioner', async () => {
    const plain = await exchange(physician, 'user/*.rs');
    expect(plain.issued.status).toBe(200);
    expect(plain.issued.body.id_token).toBeUndefined();

    const { issued } = await exchange(physician, 'openid user/*.rs');
    expect(issued.body.scope).toBe('openid user/*.rs');
    const claims = decodeJwt(String(issued.body.id_token));
    expect(claims).toMatchObject({ sub: physician.userId, aud: APP });
    expect(claims.fhirUser).toBeUndefined();
    const since = await auditHead(handle.db);
    expect((await get(String(issued.body.access_token), `Practitioner/${physician.userId}`)).status).toBe(404);
    expect(await refusalSince(since, 'fhir.self_read')).toMatchObject([{ outcome: 'denied', details: { reason: 'outside_scope' } }]);
  });
});

describe('tokens that must stop working', () => {
  /** Since is read before the request is made. */
  const expectRefused = async (request: () => ReturnType<typeof get>, reason: string) => {
    const since = await auditHead(handle.db);
    const response = await request();
    expect(response.status).toBe(401);
    expect(response.body).toMatchObject({ resourceType: 'OperationOutcome', issue: [{ code: 'login' }] });
    expect((await refusalSince(since)).map((e) => (e.details as { reason: string }).reason)).toEqual([reason]);
  };

  it('a replayed code ends the access token its first exchange got, though the JWT has minutes left', async () => {
    const { code, verifier, issued } = await exchange(physician, 'user/*.rs');
    const token = String(issued.body.access_token);
    expect((await get(token, 'Patient')).status).toBe(200);
    const since = await auditHead(handle.db);
    expect(await tokenRequest(codeForm(code, verifier))).toMatchObject({ status: 400, body: { error: 'invalid_grant' } });
    expect(await refusalSince(since, 'smart.token')).toMatchObject([{ outcome: 'denied', details: { reason: 'code_replayed' } }]);
    await expectRefused(() => get(token, 'Patient'), 'grant_revoked');
  });

  it('no token, expired, wrong audience, tampered', async () => {
    await expectRefused(() => get(null, `Patient/${patientA}`), 'no_token');
    const old = await tokenFor(physician, 'user/*.rs', {}, later(new Date(), -minutes(10)));
    await expectRefused(() => get(old, `Patient/${patientA}`), 'expired');
    const elsewhere = await tokenFor(physician, 'user/*.rs', { audience: 'http://elsewhere.test/fhir/R4' });
    await expectRefused(() => get(elsewhere, `Patient/${patientA}`), 'wrong_audience');
    const good = await tokenFor(physician);
    await expectRefused(() => get(`${good.slice(0, -4)}AAAA`, `Patient/${patientA}`), 'bad_signature');
  });

  it('a scope that does not name the resource type: nothing, audited', async () => {
    const token = await tokenFor(physician, 'user/Patient.rs');
    expect((await get(token, `Patient/${patientA}`)).status).toBe(200);
    const since = await auditHead(handle.db);
    expect((await get(token, `Condition?patient=${patientA}`)).status).toBe(404);
    expect(await refusalSince(since, 'fhir.read')).toMatchObject([{ outcome: 'denied', details: { reason: 'outside_scope' } }]);
  });

  it('a revoked app (removed from VIGIL_SMART_APPS)', async () => {
    const token = await tokenFor(physician);
    const registered = process.env.VIGIL_SMART_APPS;
    process.env.VIGIL_SMART_APPS = 'other-app=http://other.test/callback';
    try {
      await expectRefused(() => get(token, `Patient/${patientA}`), 'app_revoked');
    } finally {
      process.env.VIGIL_SMART_APPS = registered;
    }
  });

  it('a signed-out session, an idled-out session, a disabled user', async () => {
    const signedOut = await signIn(handle.db, 'physician@vigil.test');
    const outToken = await tokenFor(signedOut);
    expect((await get(outToken, `Patient/${patientA}`)).status).toBe(200);
    await endSession(signedOut);
    await expectRefused(() => get(outToken, `Patient/${patientA}`), 'session_revoked');

    const idle = await signIn(handle.db, 'physician@vigil.test');
    const idleAt = later(new Date(), sessionPolicy.idleTimeoutMs + minutes(1));
    // A token issued while the session was still alive and unexpired at that instant: only the session's idleness can refuse it. API calls never count as activity.
    const idleToken = await tokenFor(idle, 'user/*.rs', {}, later(idleAt, -minutes(3)));
    await expectRefused(() => get(idleToken, `Patient/${patientA}`, idleAt), 'session_idle');

    const staff = await createStaff(handle.db, { roles: ['physician'], careTeam: [{ patientId: patientA, relationship: 'attending' }] });
    const person = await signIn(handle.db, staff.email);
    const token = await tokenFor(person);
    expect((await get(token, `Patient/${patientA}`)).status).toBe(200);
    await handle.db.update(users).set({ disabledAt: new Date(), disabledReason: 'admin' }).where(eq(users.id, person.userId));
    const since = await auditHead(handle.db);
    const refused = await get(token, `Patient/${patientA}`);
    expect(refused.status).toBe(401);
    expect((await refusalSince(since)).map((e) => (e.details as { reason: string }).reason)[0]).toMatch(/^session_(disabled|revoked)$/);
  });
});

describe('CORS', () => {
  it('answers only the origins of registered redirect URIs', async () => {
    expect((await corsHeadersFor('http://app.test'))['Access-Control-Allow-Origin']).toBe('http://app.test');
    expect((await corsHeadersFor('http://evil.test'))['Access-Control-Allow-Origin']).toBeUndefined();
    expect((await corsHeadersFor(null))['Access-Control-Allow-Origin']).toBeUndefined();
  });
});

describe('bulk pull', () => {
  it('an app reading 100 charts in a minute opens a monitoring case and disables the app’s user, as in the portal', async () => {
    // A new physician on 100 patients' care teams: every chart is theirs to open, one at a time.
    const billingTeam = await handle.db.select({ patientId: careTeam.patientId }).from(careTeam).where(eq(careTeam.userId, (await signIn(handle.db, 'billing@vigil.test')).userId));
    const staff = await createStaff(handle.db, { roles: ['physician'], careTeam: billingTeam.slice(0, 100).map((t) => ({ patientId: t.patientId, relationship: 'attending' })) });
    const puller = await signIn(handle.db, staff.email);
    const token = await tokenFor(puller);
    const statuses: number[] = [];
    for (const { patientId } of billingTeam.slice(0, 100)) statuses.push((await get(token, `Patient/${patientId}/$everything`)).status);
    // Contained part-way: the reads after the monitor disabled the account are refused.
    expect(statuses[0]).toBe(200);
    expect(statuses.at(-1)).toBe(401);
    const [user] = await handle.db.select().from(users).where(eq(users.id, puller.userId));
    expect(user!.disabledAt).not.toBeNull();
    const cases = await handle.db.select().from(incidents).where(eq(incidents.userId, puller.userId));
    expect(cases.length).toBeGreaterThan(0);
  });
});
