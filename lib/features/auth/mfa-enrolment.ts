import 'server-only';
import { eq } from 'drizzle-orm';
import QRCode from 'qrcode';
import { z } from 'zod';
import { getDb } from '@/db/client';
import { users } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { recordAudit } from '@/lib/platform/audit';
import { now as clockNow } from '@/lib/platform/clock';
import { openUserSecret, sealUserSecret } from '@/lib/platform/crypto';
import { mfaRequired } from '@/lib/features/credentials/config';
import { matchTotp, newTotpSecret } from '@/lib/features/credentials/mfa';
import { isRecentlyReauthenticated } from '@/lib/features/credentials/reauth';
import { countUnusedRecoveryCodes, deleteRecoveryCodes, replaceRecoveryCodes } from '@/lib/features/credentials/recovery-codes';
import { revokeUserSessions } from '@/lib/features/credentials/sessions';

/**
 * Setting up, replacing and turning off a viewer's authenticator. Every change needs a fresh
 * re-authentication (lib/features/credentials/reauth), is audited, and ends the viewer's other sessions (OWASP
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
export type MfaChange<T> = ({ ok: true } & T) | { ok: false; reason: MfaChangeRefusal };

export async function getMfaStatus(viewer: Viewer): Promise<MfaStatus> {
  const db = await getDb();
  const [user] = await db.select({ enabledAt: users.totpEnabledAt }).from(users).where(eq(users.id, viewer.userId)).limit(1);
  return {
    enabled: Boolean(user?.enabledAt),
    enabledAt: user?.enabledAt ?? null,
    recoveryCodesLeft: user?.enabledAt ? await countUnusedRecoveryCodes(db, viewer.userId) : 0,
    required: mfaRequired(),
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

/** Step 1: a new secret and its QR code. Nothing is stored until a code confirms it. */
export async function beginTotpEnrolment(viewer: Viewer, at = clockNow()): Promise<MfaChange<{ pending: PendingEnrolment }>> {
  if (!(await isRecentlyReauthenticated(viewer, at))) return { ok: false, reason: 'reauth_required' };
  const { secret, uri } = newTotpSecret(viewer.email);
  const qrDataUrl = await QRCode.toDataURL(uri, { errorCorrectionLevel: 'M', margin: 1, width: 220 });
  const token = sealUserSecret(viewer.userId, pendingPurpose(viewer), JSON.stringify({ secret, expiresAt: at.getTime() + PENDING_ENROLMENT_MS }));
  return { ok: true, pending: { secret, uri, qrDataUrl, token } };
}

function openPending(viewer: Viewer, token: string): z.infer<typeof pendingSchema> | null {
  try {
    return pendingSchema.parse(JSON.parse(openUserSecret(viewer.userId, pendingPurpose(viewer), token)));
  } catch {
    return null; // tampered, another user's or session's, or not a token at all
  }
}

/**
 * Step 2: the first code from the app proves it holds the secret; only then is MFA on (or the
 * new authenticator replaces the old one). Returns ten new recovery codes, to show once.
 */
export async function confirmTotpEnrolment(
  viewer: Viewer,
  token: string,
  code: string,
  at = clockNow(),
): Promise<MfaChange<{ recoveryCodes: string[] }>> {
  if (!(await isRecentlyReauthenticated(viewer, at))) return { ok: false, reason: 'reauth_required' };
  const pending = openPending(viewer, token);
  if (!pending) return { ok: false, reason: 'invalid_code' };
  if (at.getTime() > pending.expiresAt) return { ok: false, reason: 'expired' };
  const step = await matchTotp(pending.secret, code, at);
  const db = await getDb();
  if (step === null) {
    await db.transaction((tx) =>
      recordAudit(tx, { actor: viewer, action: 'auth.mfa_enrol', resourceType: 'user', resourceId: viewer.userId, outcome: 'denied', details: { reason: 'invalid_code' } }),
    );
    return { ok: false, reason: 'invalid_code' };
  }
  const recoveryCodes = await db.transaction(async (tx) => {
    const [before] = await tx.select({ enabledAt: users.totpEnabledAt }).from(users).where(eq(users.id, viewer.userId)).limit(1);
    await tx
      .update(users)
      .set({ sealedTotpSecret: sealUserSecret(viewer.userId, 'totp', pending.secret), totpEnabledAt: at, totpLastStep: step })
      .where(eq(users.id, viewer.userId));
    const codes = await replaceRecoveryCodes(tx, viewer.userId);
    const otherSessionsEnded = await revokeUserSessions(tx, viewer.userId, 'mfa_changed', at, { except: viewer.sessionId });
    await recordAudit(tx, {
      actor: viewer,
      action: 'auth.mfa_enrol',
      resourceType: 'user',
      resourceId: viewer.userId,
      outcome: 'allowed',
      details: { replaced: Boolean(before?.enabledAt), recoveryCodes: codes.length, otherSessionsEnded },
    });
    return codes;
  });
  return { ok: true, recoveryCodes };
}

/** Ten new recovery codes; the old ones stop working. */
export async function renewRecoveryCodes(viewer: Viewer, at = clockNow()): Promise<MfaChange<{ recoveryCodes: string[] }>> {
  if (!(await isRecentlyReauthenticated(viewer, at))) return { ok: false, reason: 'reauth_required' };
  const db = await getDb();
  return db.transaction(async (tx) => {
    const [user] = await tx.select({ enabledAt: users.totpEnabledAt }).from(users).where(eq(users.id, viewer.userId)).limit(1);
    if (!user?.enabledAt) return { ok: false as const, reason: 'not_enrolled' as const };
    const recoveryCodes = await replaceRecoveryCodes(tx, viewer.userId);
    await recordAudit(tx, { actor: viewer, action: 'auth.mfa_recovery_codes', resourceType: 'user', resourceId: viewer.userId, outcome: 'allowed', details: { count: recoveryCodes.length } });
    return { ok: true as const, recoveryCodes };
  });
}

/** Turns MFA off (refused while MFA is required for everyone). */
export async function disableTotp(viewer: Viewer, at = clockNow()): Promise<MfaChange<object>> {
  if (mfaRequired()) return { ok: false, reason: 'required' };
  if (!(await isRecentlyReauthenticated(viewer, at))) return { ok: false, reason: 'reauth_required' };
  const db = await getDb();
  return db.transaction(async (tx) => {
    const [user] = await tx.select({ enabledAt: users.totpEnabledAt }).from(users).where(eq(users.id, viewer.userId)).limit(1);
    if (!user?.enabledAt) return { ok: false as const, reason: 'not_enrolled' as const };
    await tx.update(users).set({ sealedTotpSecret: null, totpEnabledAt: null, totpLastStep: null }).where(eq(users.id, viewer.userId));
    await deleteRecoveryCodes(tx, viewer.userId);
    const otherSessionsEnded = await revokeUserSessions(tx, viewer.userId, 'mfa_changed', at, { except: viewer.sessionId });
    await recordAudit(tx, { actor: viewer, action: 'auth.mfa_disable', resourceType: 'user', resourceId: viewer.userId, outcome: 'allowed', details: { otherSessionsEnded } });
    return { ok: true as const };
  });
}
