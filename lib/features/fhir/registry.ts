import 'server-only';
import { randomBytes } from 'node:crypto';
import { asc, eq } from 'drizzle-orm';
import { importJWK, type JWK } from 'jose';
import { z } from 'zod';
import type { Tx } from '@/db/client';
import { smartApps, users } from '@/db/schema';
import { adminPermission } from '@/lib/domain/access/permission-names';
import { chartSections, type ChartSection } from '@/lib/domain/access/roles';
import { auditActions } from '@/lib/domain/audit/actions';
import { fail, ok, type Result } from '@/lib/domain/result';
import { operation, stepUpMessages } from '@/lib/pipeline/operation';
import { adminMessages, adminOnly, adminPassword, adminStepUp, serialisedAdminChange } from '@/lib/features/admin/messages';
import { revokeUserSessions } from '@/lib/features/credentials/sessions';
import { unsetUserMacFields, updateWithMac, withMac } from '@/lib/platform/integrity';
import { hashPassword } from '@/lib/features/credentials/passwords';
import { findPatientByMrn } from '@/lib/features/records';
import { activeApps, clientIdShape, environmentApps, redirectUriShape, type SmartApp } from '@/lib/features/fhir/apps';
import { BACKEND_ALGORITHMS } from '@/lib/features/fhir/capability';
import { endClientGrants } from '@/lib/features/fhir/oidc-store';

/**
 * Registering SMART clients in the admin UI, alongside VIGIL_SMART_APPS. Every change is an admin
 * change like the others (the permission, a password typed now, serialised, audited with no PHI):
 *
 * - an **app** gets its client id, exact redirect URIs, an optional launch URL (which puts a
 *   "launch" action on the chart) and the scopes it may ever be granted;
 * - a **backend client** gets its public JWK Set (a private key is refused), the patients (by
 *   MRN) and chart sections it may read, and its own service account: the identity its reads
 *   carry in the trail and in monitoring (lib/features/fhir/backend.ts).
 *
 * Revoking ends it at once: the row stops matching, its grants, codes and refresh tokens are ended, and a backend
 * client's service account is disabled with its sessions ended.
 */
export const appScopeChoices = ['launch', 'launch/patient', 'patient/*.rs', 'user/*.rs', 'user/AuditEvent.rs', 'offline_access', 'openid', 'fhirUser'] as const;
export const backendScope = 'system/*.rs';

const lines = (raw: string) => raw.split(/\r?\n/).map((l) => l.trim()).filter(Boolean);
const commonFields = {
  clientId: clientIdShape,
  name: z.string().trim().min(3, 'Name the app in 3 to 100 characters.').max(100, 'Name the app in 3 to 100 characters.'),
  adminPassword,
};

const appInput = z.object({
  ...commonFields,
  redirectUris: z
    .string()
    .max(4000)
    .transform(lines)
    .pipe(z.array(redirectUriShape).min(1, 'Give at least one redirect URI, one per line.').max(10, 'At most 10 redirect URIs.')),
  launchUrl: z.union([z.literal(''), redirectUriShape]).optional().transform((v) => v || null),
  scopes: z.array(z.enum(appScopeChoices)).min(1, 'Choose at least one scope.'),
});

const privateParts = ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k'];
const jwksInput = z
  .string()
  .max(20_000, 'The key set is too long.')
  .transform((raw, ctx) => {
    try {
      return JSON.parse(raw) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'Paste the client’s public JWK Set as JSON: {"keys": [...]}.' });
      return z.NEVER;
    }
  })
  .pipe(
    z.object({
      keys: z
        .array(z.record(z.string(), z.unknown()))
        .min(1, 'The key set has no keys.')
        .max(5, 'At most 5 keys.')
        .refine((keys) => keys.every((k) => privateParts.every((p) => !(p in k))), 'This key set holds private key material. Paste the public keys only, and treat the private key as exposed.')
        .refine((keys) => keys.every((k) => (k.kty === 'RSA' || k.kty === 'EC') && (k.alg === undefined || BACKEND_ALGORITHMS.includes(String(k.alg)))), 'Keys must be RSA (RS384) or EC P-384 (ES384).'),
    }),
  );

const backendInput = z.object({
  ...commonFields,
  jwks: jwksInput,
  patientMrns: z.string().max(20_000).transform(lines).pipe(z.array(z.string().max(32)).min(1, 'Grant at least one patient, one MRN per line.').max(1000, 'At most 1000 patients.')),
  sections: z.array(z.enum(chartSections)).min(1, 'Grant at least one chart section.'),
});

const revokeInput = z.object({ clientId: clientIdShape, adminPassword });

export interface SmartAppSummary extends SmartApp {
  createdAt: string | null;
  createdBy: string | null;
  revokedAt: string | null;
}

/** Every client, the environment's first, then the registered ones (revoked too, for the record). */
export const listSmartApps = operation({
  name: 'admin.smart-app.list',
  action: auditActions.smart.viewApps,
  resourceType: 'smart_app',
  ...adminOnly(adminPermission.readSmartApps),
  input: z.unknown(),
  audits: 'refusals',
  run: async ({ tx }) => {
    const rows = await tx.select({ app: smartApps, createdBy: users.email }).from(smartApps).leftJoin(users, eq(users.id, smartApps.createdBy)).orderBy(asc(smartApps.createdAt), asc(smartApps.clientId));
    const active = new Map((await activeApps(tx)).map((a) => [a.clientId, a]));
    const listed: SmartAppSummary[] = [...environmentApps().values()].map((a) => ({ ...a, createdAt: null, createdBy: null, revokedAt: null }));
    for (const { app, createdBy } of rows) {
      const summary = active.get(app.clientId);
      listed.push({
        ...(summary?.source === 'admin' ? summary : { clientId: app.clientId, name: app.name, kind: app.kind === 'backend' ? 'backend' : 'app', redirectUris: app.redirectUris, launchUrl: app.launchUrl, scopes: app.scopes, jwks: app.jwks, grantedPatients: app.grantedPatients, grantedSections: app.grantedSections, serviceUserId: app.serviceUserId, source: 'admin' }),
        createdAt: app.createdAt.toISOString(),
        createdBy,
        revokedAt: app.revokedAt?.toISOString() ?? null,
      });
    }
    return ok(listed);
  },
});

const registration = {
  resourceType: 'smart_app',
  denialReason: 'denied',
  deniedMessage: adminMessages.denied,
  stepUp: adminStepUp,
  ...serialisedAdminChange,
  permission: { category: 'admin', name: adminPermission.registerSmartApps },
  auditedFailures: ['reauth_required'],
  invalid: (error: z.ZodError) => {
    const fieldErrors = Object.fromEntries(error.issues.map((i) => [String(i.path[0] ?? 'form'), i.message]));
    return fail('invalid', adminMessages.invalid, fieldErrors);
  },
  auditInvalid: true,
} as const;

async function clientIdTaken(tx: Tx, clientId: string): Promise<boolean> {
  if (environmentApps().has(clientId)) return true;
  const [row] = await tx.select({ id: smartApps.clientId }).from(smartApps).where(eq(smartApps.clientId, clientId)).limit(1);
  return Boolean(row);
}
const taken = () => fail('duplicate', 'That client id is already registered (a revoked id is never reused).', { clientId: 'That client id is already registered (a revoked id is never reused).' });

/** Registers a user-facing SMART app. */
export const registerSmartApp = operation({
  ...registration,
  name: 'admin.smart-app.register',
  action: auditActions.smart.register,
  target: (raw) => (raw as { clientId?: unknown } | null)?.clientId,
  input: appInput,
  run: async ({ tx, viewer, input, recentlyReauthenticated, at, audit }): Promise<Result<{ clientId: string }, 'duplicate' | 'reauth_required'>> => {
    if (!recentlyReauthenticated) return fail('reauth_required', stepUpMessages.reauth_required);
    if (await clientIdTaken(tx, input.clientId)) return taken();
    await tx.insert(smartApps).values({ clientId: input.clientId, name: input.name, kind: 'app', redirectUris: input.redirectUris, launchUrl: input.launchUrl, scopes: input.scopes, createdBy: viewer.userId, createdAt: at });
    await audit({ resourceId: input.clientId, details: { after: { kind: 'app', name: input.name, redirectUris: input.redirectUris, launchUrl: input.launchUrl, scopes: input.scopes } } });
    return ok({ clientId: input.clientId }, `Registered ${input.name}.`);
  },
});

/** Registers a backend client with its public keys, its grant and its own service account. */
export const registerBackendClient = operation({
  ...registration,
  name: 'admin.smart-backend.register',
  action: auditActions.smart.register,
  target: (raw) => (raw as { clientId?: unknown } | null)?.clientId,
  input: backendInput,
  run: async ({ tx, viewer, input, recentlyReauthenticated, at, audit }): Promise<Result<{ clientId: string }, 'duplicate' | 'invalid' | 'reauth_required'>> => {
    if (!recentlyReauthenticated) return fail('reauth_required', stepUpMessages.reauth_required);
    if (await clientIdTaken(tx, input.clientId)) return taken();
    for (const key of input.jwks.keys) {
      try {
        await importJWK(key as JWK, String(key.alg ?? (key.kty === 'EC' ? 'ES384' : 'RS384')));
      } catch {
        return fail('invalid', adminMessages.invalid, { jwks: 'A key in the set is not a usable RS384 or ES384 public key.' });
      }
    }
    const patients: string[] = [];
    for (const mrn of input.patientMrns) {
      const found = await findPatientByMrn(tx, viewer, mrn);
      if (!found) return fail('invalid', adminMessages.invalid, { patientMrns: 'One of the MRNs names no patient. Check the list.' });
      if (!patients.includes(found.patientId)) patients.push(found.patientId);
    }
    // The client's own account: its reads are audited and monitored under it. Nobody knows its password.
    const serviceUserId = crypto.randomUUID();
    await tx.insert(users).values({
      ...withMac('users', {
        ...unsetUserMacFields,
        id: serviceUserId,
        email: `${input.clientId.toLowerCase()}@smart-backend.invalid`,
        passwordHash: await hashPassword(randomBytes(32).toString('base64url')),
        passwordChangedAt: at,
      }),
      displayName: `Backend client: ${input.name}`,
      createdBy: viewer.userId,
      createdAt: at,
    });
    const sections = [...new Set(input.sections)] as ChartSection[];
    await tx.insert(smartApps).values({
      clientId: input.clientId,
      name: input.name,
      kind: 'backend',
      scopes: [backendScope],
      jwks: { keys: input.jwks.keys },
      grantedPatients: patients,
      grantedSections: sections,
      serviceUserId,
      createdBy: viewer.userId,
      createdAt: at,
    });
    await audit({
      resourceId: input.clientId,
      details: { after: { kind: 'backend', name: input.name, keys: input.jwks.keys.map((k) => String(k.kid ?? k.kty)), patients, sections, serviceAccount: serviceUserId } },
    });
    return ok({ clientId: input.clientId }, `Registered ${input.name} with ${patients.length} patient${patients.length === 1 ? '' : 's'}.`);
  },
});

/** Revokes a registered client: its tokens are refused from their next request. */
export const revokeSmartApp = operation({
  ...registration,
  name: 'admin.smart-app.revoke',
  action: auditActions.smart.revokeApp,
  permission: { category: 'admin', name: adminPermission.revokeSmartApps },
  target: (raw) => (raw as { clientId?: unknown } | null)?.clientId,
  input: revokeInput,
  run: async ({ tx, input, recentlyReauthenticated, at, audit, unchanged }): Promise<Result<null, 'not_found' | 'reauth_required'>> => {
    if (!recentlyReauthenticated) return fail('reauth_required', stepUpMessages.reauth_required);
    const [row] = await tx.select().from(smartApps).where(eq(smartApps.clientId, input.clientId)).limit(1);
    if (!row) return fail('not_found', 'That app is not registered here (apps listed in VIGIL_SMART_APPS are removed from that list).');
    if (row.revokedAt) {
      unchanged();
      return ok(null, `${row.name} was already revoked.`);
    }
    await tx.update(smartApps).set({ revokedAt: at }).where(eq(smartApps.clientId, input.clientId));
    await endClientGrants(tx, input.clientId);
    if (row.serviceUserId) {
      await updateWithMac(tx, 'users', eq(users.id, row.serviceUserId), { disabledAt: at, disabledReason: 'SMART backend client revoked' });
      await revokeUserSessions(tx, row.serviceUserId, 'app_revoked', at);
    }
    await audit({ resourceId: input.clientId, details: { before: { name: row.name, revoked: false }, after: { name: row.name, revoked: true } } });
    return ok(null, `Revoked ${row.name}: its tokens are refused from now on.`);
  },
});
