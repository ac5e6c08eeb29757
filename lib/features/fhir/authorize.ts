import 'server-only';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';
import { z } from 'zod';
import type { Queryable } from '@/db/client';
import { parseScopes, scopeString, withinRegistered, type ScopeGrant } from '@/lib/domain/access/smart-scopes';
import { auditActions } from '@/lib/domain/audit/actions';
import { fail, ok, type Result } from '@/lib/domain/result';
import { operation } from '@/lib/pipeline/operation';
import { loadRelationship } from '@/lib/pipeline/relationship';
import { appFor } from '@/lib/features/fhir/apps';
import { consentPath, isOidcScope, oidcScopes, providerFor } from '@/lib/features/fhir/oidc-provider';
import { inTransaction } from '@/lib/features/fhir/oidc-store';
import { saveGrantContext } from '@/lib/features/fhir/smart-grants';
import { openLaunch } from '@/lib/features/fhir/tokens';

/**
 * Vigil's consent page is oidc-provider's interaction: the provider has already checked the
 * request (a registered app, its exact redirect URI, PKCE S256, `aud` this server) and sends
 * the browser to /oauth/authorize/<uid>/consent; the user, signed in through Vigil’s own sign-in
 * (password, MFA, the sessions rules), agrees here, and the operation below turns that into the
 * provider's grant: only the scopes the app is registered for, within what the role can use,
 * and for patient scopes one patient the user is tied to now. An EHR launch (the app opened from
 * a chart, lib/features/fhir/launch.ts) brings a `launch` value: it must belong to this user's
 * sign-in and this app, and it names the patient. The interaction is bound to the browser that
 * started it by the provider's signed cookie, which the form carries back.
 */
export const authorizeMessages = {
  unknownApp: 'This app is not registered with Vigil, or its return address is not the registered one.',
  badRequest: 'The app sent a sign-in request Vigil cannot accept (it needs PKCE, a state and this server as its audience).',
  expired: 'This sign-in request has expired or belongs to another browser. Open the app again.',
  patientNeeded: 'Choose a patient of yours for this app.',
  launchInvalid: 'This launch has expired or belongs to another sign-in. Open the app from the chart again.',
} as const;

export interface AuthorizeRequest {
  uid: string;
  clientId: string;
  scope: string;
  launch: string | null;
  redirectUri: string;
}

/** A stand-in for the browser's request to the consent page: only its cookies are read. */
function consentExchange(uid: string, cookie: string) {
  const req = new IncomingMessage(new Socket());
  req.headers = { cookie };
  req.url = consentPath(uid);
  req.method = 'GET';
  return { req, res: new ServerResponse(req) };
}

/** The interaction this browser started, if it is still open: what the consent page shows. */
export async function consentRequest(uid: string, cookie: string, fhirBase: string, q?: Queryable): Promise<Result<AuthorizeRequest>> {
  if (!/^[A-Za-z0-9_-]{10,64}$/.test(uid)) return fail('invalid', authorizeMessages.expired);
  const { req, res } = consentExchange(uid, cookie);
  const lookup = () => providerFor(fhirBase).interactionDetails(req, res).catch(() => null);
  const details = await (q ? inTransaction(q, lookup) : lookup());
  if (!details || details.uid !== uid) return fail('invalid', authorizeMessages.expired);
  const params = details.params as Record<string, string | undefined>;
  const app = await appFor(params.client_id, q);
  if (!app || app.kind !== 'app') return fail('denied', authorizeMessages.unknownApp);
  return ok({ uid, clientId: app.clientId, scope: params.scope ?? '', launch: params.launch ?? null, redirectUri: params.redirect_uri ?? '' });
}

/** What the consent page offers: the request's scopes cut to the app's registration (the operation cuts them again). */
export async function grantOnOffer(request: AuthorizeRequest): Promise<ScopeGrant> {
  const app = await appFor(request.clientId);
  return withinRegistered(parseScopes(request.scope), parseScopes(app?.scopes.join(' ') ?? ''));
}

const approveInput = z.object({ interaction: z.string().max(64), cookie: z.string().max(4096), fhirBase: z.string().max(500), patient: z.uuid().nullable() });

/** The user agreed: the provider's grant for this app, recorded as an authorization of that app. */
export const approveApp = operation({
  name: 'fhir.smart.authorize',
  action: auditActions.smart.authorize,
  resourceType: 'smart_app',
  deniedMessage: authorizeMessages.unknownApp,
  input: approveInput,
  invalid: () => fail('invalid', authorizeMessages.badRequest),
  auditInvalid: true,
  authorize: async ({ tx, viewer, at, input }) => {
    const checked = await consentRequest(input.interaction, input.cookie, input.fhirBase, tx);
    if (!checked.ok) return { allowed: false, reason: 'bad_request', answer: fail('denied', checked.message ?? authorizeMessages.unknownApp) };
    const request = checked.value;
    const app = (await appFor(request.clientId, tx))!;
    const grant = withinRegistered(parseScopes(request.scope), parseScopes(app.scopes.join(' ')));
    // EHR launch: the chart the user launched from is the patient, whatever the form says.
    let chosen = input.patient;
    if (request.launch) {
      const launch = await openLaunch(request.launch, at);
      if (!launch || launch.sub !== viewer.userId || launch.sid !== viewer.sessionId || launch.client_id !== request.clientId) {
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
    return { allowed: true, facts: { request, grant, patient: grant.patient.length > 0 ? chosen : null } };
  },
  run: async ({ tx, viewer, input, facts: { request, grant, patient }, audit }): Promise<Result<{ redirectTo: string }>> => {
    const granted = { ...grant, system: [], launch: grant.launch && Boolean(request.launch), launchPatient: Boolean(patient) };
    const provider = providerFor(input.fhirBase);
    const providerGrant = new provider.Grant({ accountId: viewer.userId, clientId: request.clientId });
    // The API's scopes are the FHIR server's; the OpenID Connect ones (an ID token, a refresh token) the provider's own.
    const api = scopeString({ ...granted, openid: false, fhirUser: false, offlineAccess: false });
    if (api) providerGrant.addResourceScope(input.fhirBase, api);
    const oidc = oidcScopes.filter((w) => granted[w === 'offline_access' ? 'offlineAccess' : w]);
    if (oidc.length) providerGrant.addOIDCScope(oidc.join(' '));
    // What was asked and not granted is refused by name, so the provider does not ask again.
    const asked = request.scope.split(' ').filter(Boolean);
    const apiWords = new Set(api.split(' '));
    const refusedApi = asked.filter((w) => !isOidcScope(w) && !apiWords.has(w));
    if (refusedApi.length) providerGrant.rejectResourceScope(input.fhirBase, refusedApi.join(' '));
    const refusedOidc = asked.filter((w) => isOidcScope(w) && !oidc.includes(w));
    if (refusedOidc.length) providerGrant.rejectOIDCScope(refusedOidc.join(' '));
    const { req, res } = consentExchange(request.uid, input.cookie);
    const returnTo = await inTransaction(tx, async () => {
      const grantId = await providerGrant.save();
      await saveGrantContext({ grantId, clientId: request.clientId, sessionId: viewer.sessionId, patient });
      return provider.interactionResult(req, res, { login: { accountId: viewer.userId }, consent: { grantId } }, { mergeWithLastSubmission: false });
    });
    await audit({ resourceId: request.clientId, patientId: patient, details: { client: request.clientId, scope: scopeString(granted) } });
    return ok({ redirectTo: returnTo });
  },
});
