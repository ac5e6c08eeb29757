import 'server-only';
import { eq } from 'drizzle-orm';
import QRCode from 'qrcode';
import { z } from 'zod';
import { getDb } from '@/db/client';
import { sessions, users } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { fail, ok, type Refusal, type Result } from '@/lib/domain/result';
import { openUserSecret, sealUserSecret } from '@/lib/platform/crypto';
import { updateWithMac } from '@/lib/platform/integrity';
import { operation } from '@/lib/pipeline/operation';
import { mfaRequiredFor } from '@/lib/features/credentials/config';
import { matchTotp, newTotpSecret } from '@/lib/features/credentials/mfa';
import { factorStepUp } from '@/lib/features/credentials/reauth';
import { countUnusedRecoveryCodes, deleteRecoveryCodes, replaceRecoveryCodes } from '@/lib/features/credentials/recovery-codes';
import { revokeUserSessions } from '@/lib/features/credentials/sessions';
import { auditActions } from '@/lib/domain/audit/actions';

/**
 * Setting up, replacing and turning off a viewer's authenticator. Every change needs a fresh
 * proof of the current factor, or the password when there is none (lib/features/credentials/reauth
 * `factorStepUp`), is audited, and ends the viewer's other sessions (OWASP
 * ASVS: a changed factor must not leave an attacker's session standing).
 */

/** How long a started enrolment may wait for its confirming code. */
const PENDING_ENROLMENT_MS = 10 * 60_000;

export interface MfaStatus {
  enabled: boolean;
  enabledAt: Date | null;
  recoveryCodesLeft: number;
  /** VIGIL_REQUIRE_MFA: the authenticator cannot be turned off, only replaced. */
  required: boolean;
}

export type MfaChangeRefusal = 'reauth_required' | 'invalid_code' | 'expired' | 'required' | 'not_enrolled';

/** What the MFA page tells the viewer when a change is refused. */
export const mfaMessages: Record<MfaChangeRefusal, string> = {
  reauth_required: 'For your security, confirm it is you again first.',
  invalid_code: 'That code did not match. Enter the current 6-digit code from your app.',
  expired: 'The set-up took too long. Start again to get a new QR code.',
  required: 'Two-factor authentication is required for this account, so it cannot be turned off.',
  not_enrolled: 'Two-factor authentication is not set up for this account.',
};

const refused = (reason: MfaChangeRefusal): Refusal<MfaChangeRefusal> => fail(reason, mfaMessages[reason]);

/**
 * Every change is the viewer's own, so no permission is asked for; the re-authentication window
 * decides (the proof is typed on the page's own form, never alongside a change). Once a factor is
 * enrolled, that proof is the factor — a current code or a recovery code — never the password.
 */
const ownAccount = {
  resourceType: 'user',
  deniedMessage: 'Only you can change your own sign-in settings.',
  stepUp: { by: factorStepUp, secret: () => null },
} as const;
const noInput = z.object({}).optional();

export async function getMfaStatus(viewer: Viewer): Promise<MfaStatus> {
  const db = await getDb();
  const [user] = await db.select({ enabledAt: users.totpEnabledAt }).from(users).where(eq(users.id, viewer.userId)).limit(1);
  return {
    enabled: Boolean(user?.enabledAt),
    enabledAt: user?.enabledAt ?? null,
    recoveryCodesLeft: user?.enabledAt ? await countUnusedRecoveryCodes(db, viewer.userId) : 0,
    required: mfaRequiredFor(viewer.permissions),
  };
}

export interface PendingEnrolment {
  /** Shown for typing into an app by hand, and encoded in the QR code. */
  secret: string;
  uri: string;
  qrDataUrl: string;
  /** The secret sealed to this user and session with an expiry: the confirm step sends it back. */
  token: string;
}

const pendingPurpose = (viewer: Viewer) => `totp_pending.${viewer.sessionId}`;
const pendingSchema = z.object({ secret: z.string().min(16).max(128), expiresAt: z.number() });

/** Step 1: a new secret and its QR code. Nothing is stored (or recorded) until a code confirms it. */
export const beginTotpEnrolment = operation({
  ...ownAccount,
  name: 'account.mfa.begin',
  action: auditActions.auth.mfaEnrol,
  input: noInput,
  audits: 'refusals',
  run: async ({ viewer, at, recentlyReauthenticated }): Promise<Result<PendingEnrolment, MfaChangeRefusal>> => {
    if (!recentlyReauthenticated) return refused('reauth_required');
    const { secret, uri } = newTotpSecret(viewer.email);
    const qrDataUrl = await QRCode.toDataURL(uri, { errorCorrectionLevel: 'M', margin: 1, width: 220 });
    const token = sealUserSecret(viewer.userId, pendingPurpose(viewer), JSON.stringify({ secret, expiresAt: at.getTime() + PENDING_ENROLMENT_MS }));
    return ok({ secret, uri, qrDataUrl, token });
  },
});

function openPending(viewer: Viewer, token: string): z.infer<typeof pendingSchema> | null {
  try {
    return pendingSchema.parse(JSON.parse(openUserSecret(viewer.userId, pendingPurpose(viewer), token)));
  } catch {
    return null; // tampered, another user's or session's, or not a token at all
  }
}

const confirmInput = z.object({
  token: z.string().min(1).max(4096),
  code: z
    .string()
    .transform((v) => v.replace(/\s/g, ''))
    .pipe(z.string().regex(/^\d{6}$/, 'Enter the 6-digit code your app shows now.')),
});

/**
 * Step 2: the first code from the app proves it holds the secret; only then is MFA on (or the
 * new authenticator replaces the old one). Returns ten new recovery codes, to show once.
 */
export const confirmTotpEnrolment = operation({
  ...ownAccount,
  name: 'account.mfa.confirm',
  action: auditActions.auth.mfaEnrol,
  input: confirmInput,
  invalid: (error) => fail('invalid', error.issues[0]?.message ?? mfaMessages.invalid_code),
  run: async ({ tx, viewer, input, at, recentlyReauthenticated, audit, auditRefusal }): Promise<Result<{ recoveryCodes: string[] }, MfaChangeRefusal>> => {
    if (!recentlyReauthenticated) return refused('reauth_required');
    const pending = openPending(viewer, input.token);
    if (!pending) return refused('invalid_code');
    if (at.getTime() > pending.expiresAt) return refused('expired');
    const step = await matchTotp(pending.secret, input.code, at);
    if (step === null) {
      // A wrong code for a genuine pending secret is a failed proof of the factor: recorded.
      await auditRefusal('invalid_code', { resourceId: viewer.userId });
      return refused('invalid_code');
    }
    const [before] = await tx.select({ enabledAt: users.totpEnabledAt }).from(users).where(eq(users.id, viewer.userId)).limit(1);
    await updateWithMac(tx, 'users', eq(users.id, viewer.userId), { sealedTotpSecret: sealUserSecret(viewer.userId, 'totp', pending.secret), totpEnabledAt: at, totpLastStep: step });
    const recoveryCodes = await replaceRecoveryCodes(tx, viewer.userId);
    // The code just typed proves the new factor in this session.
    await updateWithMac(tx, 'sessions', eq(sessions.id, viewer.sessionId), { factorVerifiedAt: at });
    const otherSessionsEnded = await revokeUserSessions(tx, viewer.userId, 'mfa_changed', at, { except: viewer.sessionId });
    await audit({ resourceId: viewer.userId, details: { replaced: Boolean(before?.enabledAt), recoveryCodes: recoveryCodes.length, otherSessionsEnded } });
    return ok({ recoveryCodes });
  },
});

/** Ten new recovery codes; the old ones stop working. */
export const renewRecoveryCodes = operation({
  ...ownAccount,
  name: 'account.mfa.recovery-codes',
  action: auditActions.auth.mfaRecoveryCodes,
  input: noInput,
  run: async ({ tx, viewer, recentlyReauthenticated, audit }): Promise<Result<{ recoveryCodes: string[] }, MfaChangeRefusal>> => {
    if (!recentlyReauthenticated) return refused('reauth_required');
    const [user] = await tx.select({ enabledAt: users.totpEnabledAt }).from(users).where(eq(users.id, viewer.userId)).limit(1);
    if (!user?.enabledAt) return refused('not_enrolled');
    const recoveryCodes = await replaceRecoveryCodes(tx, viewer.userId);
    await audit({ resourceId: viewer.userId, details: { count: recoveryCodes.length } });
    return ok({ recoveryCodes });
  },
});

/** Turns MFA off (refused while MFA is required for everyone). */
export const disableTotp = operation({
  ...ownAccount,
  name: 'account.mfa.disable',
  action: auditActions.auth.mfaDisable,
  input: noInput,
  run: async ({ tx, viewer, at, recentlyReauthenticated, audit }): Promise<Result<undefined, MfaChangeRefusal>> => {
    if (mfaRequiredFor(viewer.permissions)) return refused('required');
    if (!recentlyReauthenticated) return refused('reauth_required');
    const [user] = await tx.select({ enabledAt: users.totpEnabledAt }).from(users).where(eq(users.id, viewer.userId)).limit(1);
    if (!user?.enabledAt) return refused('not_enrolled');
    await updateWithMac(tx, 'users', eq(users.id, viewer.userId), { sealedTotpSecret: null, totpEnabledAt: null, totpLastStep: null });
    await deleteRecoveryCodes(tx, viewer.userId);
    const otherSessionsEnded = await revokeUserSessions(tx, viewer.userId, 'mfa_changed', at, { except: viewer.sessionId });
    await audit({ resourceId: viewer.userId, details: { otherSessionsEnded } });
    return ok(undefined);
  },
});
