import 'server-only';
import { z } from 'zod';
import { getDb } from '@/db/client';
import type { Viewer } from '@/lib/domain/access/viewer';
import { fail, ok, type Result } from '@/lib/domain/result';
import { now as clockNow } from '@/lib/platform/clock';
import { operation } from '@/lib/pipeline/operation';
import { factorStepUp } from '@/lib/features/credentials/reauth';
import { listOpenSessions, revokeUserSessions } from '@/lib/features/credentials/sessions';
import { auditActions } from '@/lib/domain/audit/actions';

/** One of the viewer's own sessions, as the account page lists it. */
export interface OwnSession {
  id: string;
  current: boolean;
  createdAt: Date;
  lastSeenAt: Date;
  ip: string | null;
  browser: string;
}

/** A short browser and system name from a user agent ("Chrome on Linux"); never the raw string. */
export function describeUserAgent(userAgent: string | null): string {
  if (!userAgent) return 'Unknown browser';
  const browser = /Edg\//.test(userAgent)
    ? 'Edge'
    : /Firefox\//.test(userAgent)
      ? 'Firefox'
      : /Chrom(e|ium)\//.test(userAgent)
        ? 'Chrome'
        : /Safari\//.test(userAgent)
          ? 'Safari'
          : 'Other browser';
  const system = /Windows/.test(userAgent)
    ? 'Windows'
    : /Android/.test(userAgent)
      ? 'Android'
      : /iPhone|iPad/.test(userAgent)
        ? 'iOS'
        : /Mac OS X/.test(userAgent)
          ? 'macOS'
          : /Linux/.test(userAgent)
            ? 'Linux'
            : null;
  return system ? `${browser} on ${system}` : browser;
}

/** The viewer's sessions that are still open (not ended, not idle, not expired). */
export async function listOwnSessions(viewer: Viewer, at = clockNow()): Promise<OwnSession[]> {
  const rows = await listOpenSessions(await getDb(), viewer.userId, at);
  return rows.map((row) => ({
    id: row.id,
    current: row.id === viewer.sessionId,
    createdAt: row.createdAt,
    lastSeenAt: row.lastSeenAt,
    ip: row.ip,
    browser: describeUserAgent(row.userAgent),
  }));
}

const ownSessions = 'Only you can end your own sessions.';

/** "Sign out everywhere": ends every session of the viewer, this one included; answers how many. */
export const signOutEverywhere = operation({
  name: 'account.sign-out-everywhere',
  action: auditActions.auth.logoutEverywhere,
  resourceType: 'session',
  deniedMessage: ownSessions,
  input: z.object({}).optional(),
  run: async ({ tx, viewer, at, audit }): Promise<Result<number, never>> => {
    const ended = await revokeUserSessions(tx, viewer.userId, 'signed_out_everywhere', at);
    await audit({ resourceId: viewer.sessionId, details: { sessionsEnded: ended } });
    return ok(ended);
  },
});

const secretOf = (raw: unknown) => {
  const secret = (raw as { secret?: unknown } | null)?.secret;
  return typeof secret === 'string' && secret.length <= 1024 ? secret : null;
};

/**
 * The viewer confirms it is them before changing how they sign in: with the second factor once
 * there is one (a current code or a recovery code, never the password), else with the password
 * (lib/features/credentials/reauth.ts `factorStepUp`). The check records both outcomes and counts
 * failures towards the lockout, so nothing else is recorded here: a second entry would count one
 * mistake twice.
 */
const factorMissing = 'Enter a code from your authenticator app, or a recovery code.';
export const confirmSecondFactor = operation({
  name: 'account.confirm-factor',
  action: auditActions.auth.reauthenticate,
  resourceType: 'session',
  deniedMessage: ownSessions,
  input: z.object({ secret: z.string().min(1, factorMissing).max(1024) }),
  invalid: (error) => fail('invalid', error.issues[0]?.message ?? factorMissing),
  stepUp: {
    by: factorStepUp,
    secret: secretOf,
    selfAudited: true,
    refusal: fail('reauth_failed', 'That did not match. Try again (repeated mistakes lock the account for a while).'),
  },
  audits: 'refusals',
  run: async (): Promise<Result<undefined, never>> => ok(undefined),
});
