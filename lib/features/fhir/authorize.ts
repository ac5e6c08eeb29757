import 'server-only';
import { and, eq, gt, sql } from 'drizzle-orm';
import { z } from 'zod';
import { getDb, type Queryable } from '@/db/client';
import { auditLog } from '@/db/schema';
import { parseScopes, scopeString, withinRegistered } from '@/lib/domain/access/smart-scopes';
import { auditActions } from '@/lib/domain/audit/actions';
import { fail, ok, type Result } from '@/lib/domain/result';
import { locks } from '@/lib/pipeline/locks';
import { operation } from '@/lib/pipeline/operation';
import { loadRelationship } from '@/lib/pipeline/relationship';
import { resolveViewerState } from '@/lib/features/auth/viewer-state';
import { appFor } from '@/lib/features/fhir/apps';
import { refuseOAuth, tokenError, type OAuthCaller, type TokenResponse } from '@/lib/features/fhir/oauth-answers';
import { handleClientCredentials } from '@/lib/features/fhir/backend';
import { handleRefresh, issueRefreshToken } from '@/lib/features/fhir/refresh';
import { ACCESS_TOKEN_SECONDS, CODE_SECONDS, issueAccessToken, issueCode, openCode, openLaunch, pkceMatches } from '@/lib/features/fhir/tokens';

/**
 * SMART App Launch, authorization code with PKCE (S256), with Vigil as the authorization server:
 * the user is signed in through Vigil's own sign-in (password, MFA, the sessions rules), agrees on
 * the consent page, and the app's code is bound to that session. Only registered apps, only their
 * exact redirect URIs, only the scopes they are registered for, within what the role can use.
 * An EHR launch (the app opened from a chart, lib/features/fhir/launch.ts) brings a `launch`
 * value: it must belong to this user's sign-in and this app, and it names the patient.
 */
export const authorizeRequest = z.object({
  response_type: z.literal('code'),
  client_id: z.string().max(64),
  redirect_uri: z.string().max(500),
  scope: z.string().max(1000),
  state: z.string().min(1).max(500),
  aud: z.string().max(500),
  code_challenge: z.string().regex(/^[A-Za-z0-9_-]{43}$/),
  code_challenge_method: z.literal('S256'),
  launch: z.string().max(4000).optional(),
});
export type AuthorizeRequest = z.infer<typeof authorizeRequest>;

export const authorizeMessages = {
  unknownApp: 'This app is not registered with Vigil, or its return address is not the registered one.',
  badRequest: 'The app sent a sign-in request Vigil cannot accept (it needs PKCE, a state and this server as its audience).',
  patientNeeded: 'Choose a patient of yours for this app.',
  launchInvalid: 'This launch has expired or belongs to another sign-in. Open the app from the chart again.',
} as const;

/** The request is one Vigil can answer at all; anything else is shown to the user, never redirected. */
export async function checkAuthorizeRequest(raw: Record<string, unknown>, fhirBase: string, q?: Queryable): Promise<Result<AuthorizeRequest>> {
  const parsed = authorizeRequest.safeParse(raw);
  const app = await appFor(typeof raw.client_id === 'string' ? raw.client_id : null, q);
  if (!app || app.kind !== 'app' || !app.redirectUris.includes(String(raw.redirect_uri ?? ''))) return fail('denied', authorizeMessages.unknownApp);
  if (!parsed.success || parsed.data.aud.replace(/\/$/, '') !== fhirBase) return fail('invalid', authorizeMessages.badRequest);
  return ok(parsed.data);
}

/** What the consent page offers: the request's scopes cut to the app's registration (the operation cuts them again). */
export async function grantOnOffer(request: AuthorizeRequest) {
  const app = await appFor(request.client_id);
  return withinRegistered(parseScopes(request.scope), parseScopes(app?.scopes.join(' ') ?? ''));
}

const approveInput = authorizeRequest.extend({ fhirBase: z.string(), patient: z.uuid().nullable() });

/** The user agreed: a one-minute code for the app, recorded as an authorization of that app. */
export const approveApp = operation({
  name: 'fhir.smart.authorize',
  action: auditActions.smart.authorize,
  resourceType: 'smart_app',
  deniedMessage: authorizeMessages.unknownApp,
  target: (raw) => (raw as { client_id?: unknown } | null)?.client_id,
  input: approveInput,
  invalid: () => fail('invalid', authorizeMessages.badRequest),
  auditInvalid: true,
  authorize: async ({ tx, viewer, at, input }) => {
    const checked = await checkAuthorizeRequest(input, input.fhirBase, tx);
    if (!checked.ok) return { allowed: false, reason: 'bad_request', answer: fail('denied', checked.message ?? authorizeMessages.unknownApp) };
    const app = (await appFor(input.client_id, tx))!;
    const grant = withinRegistered(parseScopes(input.scope), parseScopes(app.scopes.join(' ')));
    // EHR launch: the chart the user launched from is the patient, whatever the form says.
    let chosen = input.patient;
    if (input.launch) {
      const launch = await openLaunch(input.launch, at);
      if (!launch || launch.sub !== viewer.userId || launch.sid !== viewer.sessionId || launch.client_id !== input.client_id) {
        return { allowed: false, reason: 'launch_invalid', answer: fail('invalid', authorizeMessages.launchInvalid) };
      }
      chosen = launch.patient;
    }
    if (grant.patient.length > 0) {
      // Patient-level scopes name one patient, chosen now, whom the user is tied to now.
      if (!chosen) return { allowed: false, reason: 'no_patient', answer: fail('invalid', authorizeMessages.patientNeeded) };
      const relationship = await loadRelationship(tx, viewer, chosen, at);
      if (!relationship.careTeam && !relationship.breakGlassGrantId) {
        return { allowed: false, reason: 'no_relationship', patientId: null, answer: fail('invalid', authorizeMessages.patientNeeded) };
      }
    }
    return { allowed: true, facts: { grant, patient: grant.patient.length > 0 ? chosen : null } };
  },
  run: async ({ viewer, input, facts: { grant, patient }, at, audit }): Promise<Result<{ redirectTo: string }>> => {
    // No id tokens are issued (there is no public signing key to verify them with): openid and fhirUser are not granted.
    const granted = { ...grant, system: [], openid: false, fhirUser: false, launch: grant.launch && Boolean(input.launch), launchPatient: Boolean(patient) };
    const { code, jti } = await issueCode(
      {
        sub: viewer.userId,
        sid: viewer.sessionId,
        client_id: input.client_id,
        scope: scopeString(granted),
        user_types: grant.user,
        patient_types: patient ? grant.patient : [],
        system_types: [],
        patient,
        redirect_uri: input.redirect_uri,
        code_challenge: input.code_challenge,
        aud: input.fhirBase,
        offline: granted.offlineAccess,
      },
      at,
    );
    await audit({ resourceId: input.client_id, patientId: patient, details: { client: input.client_id, scope: scopeString(granted), code: jti } });
    const target = new URL(input.redirect_uri);
    target.searchParams.set('code', code);
    target.searchParams.set('state', input.state);
    return ok({ redirectTo: target.toString() });
  },
});

const tokenForm = z.object({
  grant_type: z.literal('authorization_code'),
  code: z.string().max(4000),
  redirect_uri: z.string().max(500),
  client_id: z.string().max(64),
  code_verifier: z.string().max(128),
});

const exchangeInput = z.object({ jti: z.string(), client: z.string() });

/** The code's one use, under a lock on the code: the trail is where its first use is found. */
const exchange = operation({
  name: 'fhir.smart.token',
  action: auditActions.smart.token,
  resourceType: 'smart_app',
  deniedMessage: 'The authorization code is not valid.',
  input: exchangeInput,
  lock: (input) => locks.smartCode(input.jti),
  auditedFailures: ['code_replayed'],
  run: async ({ tx, input, at, audit }): Promise<Result<null, 'code_replayed'>> => {
    const [used] = await tx
      .select({ seq: auditLog.seq })
      .from(auditLog)
      .where(
        and(
          eq(auditLog.actionType, auditActions.smart.token),
          eq(auditLog.outcome, 'allowed'),
          sql`${auditLog.details}->>'code' = ${input.jti}`,
          // A code lives one minute; looking back a little further bounds the search.
          gt(auditLog.occurredAt, new Date(at.getTime() - 2 * CODE_SECONDS * 1000)),
        ),
      )
      .limit(1);
    if (used) return fail('code_replayed', 'The authorization code was already used.');
    await audit({ resourceId: input.client, details: { client: input.client, code: input.jti } });
    return ok(null);
  },
});

/** `POST /oauth/token`: one of the three grants this server implements, each refusal audited. */
export async function handleTokenRequest(form: URLSearchParams, caller: OAuthCaller, fhirBase: string, at: Date): Promise<TokenResponse> {
  const grantType = form.get('grant_type');
  if (grantType === 'refresh_token') return handleRefresh(form, caller, fhirBase, at);
  if (grantType === 'client_credentials') return handleClientCredentials(form, caller, fhirBase, at);
  return exchangeCode(form, caller, fhirBase, at);
}

/** The code, its PKCE verifier, its client and redirect URI, and a session still alive. */
async function exchangeCode(form: URLSearchParams, caller: OAuthCaller, fhirBase: string, at: Date): Promise<TokenResponse> {
  const refuse = (reason: string, userId: string | null, clientId: string | null, answer: TokenResponse) =>
    refuseOAuth(auditActions.smart.token, caller, { reason, userId, clientId }, answer);
  const parsed = tokenForm.safeParse(Object.fromEntries(form));
  if (!parsed.success) {
    const unsupported = form.get('grant_type') !== 'authorization_code';
    return unsupported
      ? refuse('unsupported_grant', null, form.get('client_id'), tokenError('unsupported_grant_type', 'Use authorization_code, refresh_token or client_credentials.'))
      : refuse('malformed', null, null, tokenError('invalid_request', 'The token request is missing a field.'));
  }
  const request = parsed.data;
  const code = await openCode(request.code, at);
  const invalidGrant = tokenError('invalid_grant', 'The authorization code is not valid.');
  if (!code || code.aud !== fhirBase) return refuse('bad_code', null, request.client_id, invalidGrant);
  if (code.client_id !== request.client_id || code.redirect_uri !== request.redirect_uri || !(await appFor(code.client_id))) {
    return refuse('client_mismatch', code.sub, request.client_id, invalidGrant);
  }
  if (!pkceMatches(request.code_verifier, code.code_challenge)) return refuse('pkce_failed', code.sub, request.client_id, invalidGrant);
  const db = await getDb();
  const state = await resolveViewerState(db, code.sid, caller, { at, touch: 'never' });
  if (!state.viewer || state.viewer.userId !== code.sub || state.mfaEnrolmentPending) {
    return refuse(`session_${state.viewer ? 'mismatch' : state.reason}`, code.sub, request.client_id, invalidGrant);
  }
  const used = await exchange(state.viewer, { jti: code.jti, client: code.client_id }, at);
  if (!used.ok) return invalidGrant;
  const claims = { sub: code.sub, sid: code.sid, client_id: code.client_id, scope: code.scope, user_types: code.user_types, patient_types: code.patient_types, system_types: [], patient: code.patient };
  const accessToken = await issueAccessToken(claims, fhirBase, at);
  const refreshToken = code.offline ? await issueRefreshToken(db, claims, at) : null;
  return {
    status: 200,
    body: {
      access_token: accessToken,
      token_type: 'Bearer',
      expires_in: ACCESS_TOKEN_SECONDS,
      scope: code.scope,
      ...(refreshToken ? { refresh_token: refreshToken } : {}),
      ...(code.patient ? { patient: code.patient } : {}),
    },
  };
}
