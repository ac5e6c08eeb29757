import 'server-only';
import { z } from 'zod';
import { env } from '@/lib/platform/env';

/**
 * The SMART apps an operator has registered (VIGIL_SMART_APPS): a public client id and the exact
 * redirect URIs its codes may go to. An app removed from the list is revoked: its tokens are
 * refused on their next request, because every request checks the app is still registered.
 */
export interface SmartApp {
  clientId: string;
  redirectUris: string[];
}

const clientId = z.string().regex(/^[A-Za-z0-9._-]{3,64}$/);
const redirectUri = z.url({ protocol: /^https?$/ });

export function registeredApps(raw = env().VIGIL_SMART_APPS): Map<string, SmartApp> {
  const apps = new Map<string, SmartApp>();
  for (const entry of (raw ?? '').split(',').map((e) => e.trim()).filter(Boolean)) {
    const eq = entry.indexOf('=');
    const id = clientId.safeParse(entry.slice(0, eq));
    const uris = entry.slice(eq + 1).split('|').map((u) => redirectUri.safeParse(u));
    if (eq < 1 || !id.success || uris.some((u) => !u.success)) throw new Error('VIGIL_SMART_APPS has an entry that is not clientId=redirectUri[|redirectUri…]');
    apps.set(id.data, { clientId: id.data, redirectUris: uris.map((u) => u.data!) });
  }
  return apps;
}

export function appFor(clientIdValue: string | null | undefined): SmartApp | null {
  return clientIdValue ? (registeredApps().get(clientIdValue) ?? null) : null;
}

/**
 * CORS for browser apps served from another origin: only the origins of registered redirect
 * URIs are answered, so no other site's script can read the API with a token it obtained.
 */
export function corsHeadersFor(origin: string | null): Record<string, string> {
  const allowed = origin && [...registeredApps().values()].some((app) => app.redirectUris.some((uri) => new URL(uri).origin === origin));
  if (!allowed) return { Vary: 'Origin' };
  return {
    'Access-Control-Allow-Origin': origin,
    'Access-Control-Allow-Headers': 'Authorization, Content-Type, Accept',
    'Access-Control-Allow-Methods': 'GET, POST, OPTIONS',
    'Access-Control-Max-Age': '600',
    Vary: 'Origin',
  };
}
