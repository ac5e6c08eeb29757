import 'server-only';
import { z } from 'zod';
import { chartPermission } from '@/lib/domain/access/permission-names';
import { decide } from '@/lib/domain/access/policy';
import { parseScopes } from '@/lib/domain/access/smart-scopes';
import { auditActions } from '@/lib/domain/audit/actions';
import { fail, ok, type Result } from '@/lib/domain/result';
import { operation } from '@/lib/pipeline/operation';
import { loadRelationship } from '@/lib/pipeline/relationship';
import { activeApps, appFor } from '@/lib/features/fhir/apps';
import { FHIR_PATH } from '@/lib/features/fhir/capability';
import { issueLaunch } from '@/lib/features/fhir/tokens';

/**
 * EHR launch: a user opens a registered app from a patient's chart. Vigil sends the browser to the
 * app's launch URL with `iss` (this FHIR server) and `launch`, a five-minute value sealed to this
 * user, this sign-in, this app and this patient; the app then runs the ordinary authorization
 * (lib/features/fhir/authorize.ts), which opens the value and makes that patient the token's
 * `launch/patient` context. Only someone who may open the chart now (care team or this session's
 * break-glass grant, a role that reads demographics) can launch on it.
 */
export interface LaunchableApp {
  clientId: string;
  name: string;
}

/** Apps an admin registered with a launch URL and the `launch` scope: what the chart offers. No PHI. */
export async function launchableApps(): Promise<LaunchableApp[]> {
  return (await activeApps())
    .filter((app) => app.kind === 'app' && app.launchUrl && parseScopes(app.scopes.join(' ')).launch)
    .map((app) => ({ clientId: app.clientId, name: app.name }));
}

const launchMessage = 'This app cannot be launched on this chart.';

export const launchApp = operation({
  name: 'fhir.smart.launch',
  action: auditActions.smart.launch,
  resourceType: 'smart_app',
  permission: { category: 'ehr_read', name: chartPermission.demographics },
  deniedMessage: launchMessage,
  target: (raw) => (raw as { clientId?: unknown } | null)?.clientId,
  // The chart page names this server's FHIR base as it addressed it; anything else is not a base. The app's
  // authorization names it again as `aud`, and the consent page refuses an audience other than its own.
  input: z.object({ clientId: z.string().max(64), patientId: z.uuid(), fhirBase: z.url({ protocol: /^https?$/ }).max(500).refine((u) => u.endsWith(FHIR_PATH)) }),
  invalid: () => fail('invalid', launchMessage),
  authorize: async ({ tx, viewer, at, input }) => {
    const app = await appFor(input.clientId, tx);
    if (!app || app.kind !== 'app' || !app.launchUrl || !parseScopes(app.scopes.join(' ')).launch) return { allowed: false, reason: 'not_launchable', answer: fail('denied', launchMessage) };
    const decision = decide(viewer, await loadRelationship(tx, viewer, input.patientId, at), 'read', 'demographics');
    if (!decision.allowed) return { allowed: false, reason: decision.reason, patientId: input.patientId, answer: fail('denied', launchMessage) };
    return { allowed: true, facts: { launchUrl: app.launchUrl, grantId: decision.breakGlassGrantId } };
  },
  run: async ({ viewer, input, facts, at, audit }): Promise<Result<{ redirectTo: string }>> => {
    const launch = await issueLaunch({ sub: viewer.userId, sid: viewer.sessionId, client_id: input.clientId, patient: input.patientId }, at);
    await audit({ resourceId: input.clientId, patientId: input.patientId, breakGlassGrantId: facts.grantId, details: { client: input.clientId } });
    const target = new URL(facts.launchUrl);
    target.searchParams.set('iss', input.fhirBase);
    target.searchParams.set('launch', launch);
    return ok({ redirectTo: target.toString() });
  },
});
