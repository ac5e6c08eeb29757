import 'server-only';
import { and, eq, isNull } from 'drizzle-orm';
import { z } from 'zod';
import { getDb, type Queryable } from '@/db/client';
import { builtOnce } from '@/db/statements';
import { smartApps } from '@/db/schema';
import { supportedScopes } from '@/lib/domain/access/smart-scopes';
import { env } from '@/lib/platform/env';

/**
 * The SMART clients Vigil answers: those an admin registered (lib/features/fhir/registry.ts,
 * the `smart_apps` table) and, alongside them, those an operator lists in VIGIL_SMART_APPS (a
 * public client id and its exact redirect URIs, every user-facing scope). Every token request and
 * every API request looks the client up again, so revoking it (or removing it from the list)
 * refuses its tokens from their next request.
 */
export interface SmartApp {
  clientId: string;
  name: string;
  kind: 'app' | 'backend';
  redirectUris: string[];
  /** Where an EHR launch from the chart sends the user (with `iss` and `launch`). */
  launchUrl: string | null;
  /** The scopes the client may be granted at all. */
  scopes: string[];
  jwks: { keys: Record<string, unknown>[] } | null;
  grantedPatients: string[];
  grantedSections: string[];
  serviceUserId: string | null;
  source: 'admin' | 'environment';
}

export const clientIdShape = z.string().regex(/^[A-Za-z0-9._-]{3,64}$/, 'A client id has 3 to 64 letters, digits, dots, dashes or underscores.');
export const redirectUriShape = z.url({ protocol: /^https?$/, error: 'Each address must be a full http(s) URL.' });

/** Apps listed in the environment: standalone (and EHR) launch for users, no backend access. */
export function environmentApps(raw = env().VIGIL_SMART_APPS): Map<string, SmartApp> {
  const apps = new Map<string, SmartApp>();
  for (const entry of (raw ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
    const eq = entry.indexOf('=');
    const id = clientIdShape.safeParse(entry.slice(0, eq));
    const uris = entry.slice(eq + 1).split('|').map((u) => redirectUriShape.safeParse(u));
    if (eq < 1 || !id.success || uris.some((u) => !u.success)) throw new Error('VIGIL_SMART_APPS has an entry that is not clientId=redirectUri[|redirectUri…]');
    apps.set(id.data, {
      clientId: id.data,
      name: id.data,
      kind: 'app',
      redirectUris: uris.map((u) => u.data!),
      launchUrl: null,
      scopes: supportedScopes.filter((s) => !s.startsWith('system/')),
      jwks: null,
      grantedPatients: [],
      grantedSections: [],
      serviceUserId: null,
      source: 'environment',
    });
  }
  return apps;
}

type Row = typeof smartApps.$inferSelect;
const fromRow = (row: Row): SmartApp => ({
  clientId: row.clientId,
  name: row.name,
  kind: row.kind === 'backend' ? 'backend' : 'app',
  redirectUris: row.redirectUris,
  launchUrl: row.launchUrl,
  scopes: row.scopes,
  jwks: row.jwks,
  grantedPatients: row.grantedPatients,
  grantedSections: row.grantedSections,
  serviceUserId: row.serviceUserId,
  source: 'admin',
});

/** The registered apps not revoked (every chart lists them), built once. */
const registeredApps = builtOnce('registered_smart_apps', (q) => q.select().from(smartApps).where(isNull(smartApps.revokedAt)));

/** Every registered, unrevoked client: the environment's first (an admin cannot shadow them). */
export async function activeApps(q?: Queryable): Promise<SmartApp[]> {
  const rows = await registeredApps(q ?? (await getDb()), {});
  const listed = environmentApps();
  return [...listed.values(), ...rows.filter((r) => !listed.has(r.clientId)).map(fromRow)];
}

/** The client with this id, if it is registered and not revoked. */
export async function appFor(clientIdValue: string | null | undefined, q?: Queryable): Promise<SmartApp | null> {
  if (!clientIdValue || !clientIdShape.safeParse(clientIdValue).success) return null;
  const listed = environmentApps().get(clientIdValue);
  if (listed) return listed;
  const [row] = await (q ?? (await getDb())).select().from(smartApps).where(and(eq(smartApps.clientId, clientIdValue), isNull(smartApps.revokedAt))).limit(1);
  return row ? fromRow(row) : null;
}

/**
 * CORS for browser apps served from another origin: only the origins of registered redirect
 * URIs are answered, so no other site's script can read the API with a token it obtained.
 */
export async function corsHeadersFor(origin: string | null): Promise<Record<string, string>> {
  const allowed = origin && (await activeApps()).some((app) => app.redirectUris.some((uri) => new URL(uri).origin === origin));
  if (!allowed) return { Vary: 'Origin' };
  return {
    'Access-Control-Allow-Origin': origin,
    'Access-Control-Allow-Headers': 'Authorization, Content-Type, Accept',
    'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
    'Access-Control-Max-Age': '600',
    Vary: 'Origin',
  };
}
