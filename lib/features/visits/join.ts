import 'server-only';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { eq } from 'drizzle-orm';
import { getDb } from '@/db/client';
import { users, visitLinks, visits } from '@/db/schema';
import { auditActions } from '@/lib/domain/audit/actions';
import { isUuid } from '@/lib/domain/ids';
import { fail, ok, type Result } from '@/lib/domain/result';
import { JOIN_REFUSED_MESSAGE, JOIN_TOKEN_PATTERN, joinLinkRefusal } from '@/lib/domain/visits/join-link';
import { recordAudit, type AuditActor } from '@/lib/platform/audit';
import { now } from '@/lib/platform/clock';
import { digest, loadVisit } from './access';
import { deliver, eventStream, type SignalMessage } from './signalling';
import { iceServersFor, type IceServer } from './turn';

/**
 * The patient's side of a visit. The patient has no account: the one-time link is their
 * credential, and spending it gives the browser that spent it a secret for this visit alone (a
 * cookie scoped to /visit), good until the visit ends. These are the portal's only entries
 * without a signed-in viewer that touch a visit, so each checks the credential itself and
 * records what it decided, refusals included, in the same transaction. Nothing here shows PHI:
 * the patient sees the clinician's name and their own camera, and the portal sees no media.
 */
export const VISIT_COOKIE = 'vigil-visit';

export interface JoinedVisit {
  visitId: string;
  /** For the cookie: `<visit id>.<secret>`. */
  credential: string;
  clinician: string;
  consent: 'given' | 'refused' | null;
  iceServers: IceServer[];
}

export interface PatientGuest {
  visitId: string;
  patientId: string;
  consent: 'given' | 'refused' | null;
}

const patientActor = (client: Omit<AuditActor, 'userId'>): AuditActor => ({ userId: null, ip: client.ip ?? null, userAgent: client.userAgent ?? null, roles: ['patient'] });

/** Spends a join link: once, in its window, for a visit still going. */
export async function joinWithLink(token: unknown, client: Omit<AuditActor, 'userId'>, at = now()): Promise<Result<JoinedVisit>> {
  const db = await getDb();
  const outcome = await db.transaction(async (tx) => {
    const refuse = async (reason: string, link?: { id: string; visitId: string }, patientId?: string) => {
      await recordAudit(tx, { actor: patientActor(client), action: auditActions.visit.join, resourceType: 'visit', resourceId: link?.visitId ?? null, patientId: patientId ?? null, outcome: 'denied', details: { reason, ...(link ? { link: link.id } : {}) } });
      return fail('denied', JOIN_REFUSED_MESSAGE);
    };
    if (typeof token !== 'string' || !JOIN_TOKEN_PATTERN.test(token)) return refuse('malformed');
    const [row] = await tx
      .select({ link: visitLinks, visit: visits })
      .from(visitLinks)
      .innerJoin(visits, eq(visits.id, visitLinks.visitId))
      .where(eq(visitLinks.tokenHash, digest(token)))
      .limit(1)
      .for('update');
    const reason = joinLinkRefusal(row ? { ...row.link, visitEndedAt: row.visit.endedAt } : null, at);
    if (reason || !row) return refuse(reason ?? 'unknown', row?.link, row?.visit.patientId);
    const secret = randomBytes(32).toString('base64url');
    await tx.update(visitLinks).set({ usedAt: at }).where(eq(visitLinks.id, row.link.id));
    await tx.update(visits).set({ patientJoinedAt: at, guestSecretHash: digest(secret) }).where(eq(visits.id, row.visit.id));
    // Any other open link of the visit dies with this one: the visit has its patient.
    await recordAudit(tx, { actor: patientActor(client), action: auditActions.visit.join, resourceType: 'visit', resourceId: row.visit.id, patientId: row.visit.patientId, outcome: 'allowed', details: { link: row.link.id } });
    const [clinician] = await tx.select({ name: users.displayName }).from(users).where(eq(users.id, row.visit.clinicianId)).limit(1);
    return ok<JoinedVisit>({
      visitId: row.visit.id,
      credential: `${row.visit.id}.${secret}`,
      clinician: clinician?.name ?? 'Your clinician',
      consent: (row.visit.consent as JoinedVisit['consent']) ?? null,
      iceServers: iceServersFor(`p-${row.visit.id.slice(0, 8)}`, at),
    });
  });
  if (outcome.ok) deliver(outcome.value.visitId, 'clinician', { type: 'patient-joined' });
  return outcome;
}

/** The visit a patient's cookie opens, while it is going; null for anything else. */
export async function patientGuest(credential: string | undefined): Promise<PatientGuest | null> {
  const [visitId, secret] = (credential ?? '').split('.');
  if (!visitId || !secret || !isUuid(visitId)) return null;
  const db = await getDb();
  const visit = await loadVisit(db, visitId);
  if (!visit?.guestSecretHash || visit.endedAt) return null;
  const expected = Buffer.from(visit.guestSecretHash, 'hex');
  const given = Buffer.from(digest(secret), 'hex');
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
  return { visitId, patientId: visit.patientId, consent: (visit.consent as PatientGuest['consent']) ?? null };
}

/**
 * The patient's answer to "may this visit be recorded?", recorded as given or refused. A "no"
 * after a "yes" withdraws it: the recording's next chunk is refused and nothing more is kept.
 */
export async function answerConsent(guest: PatientGuest, given: unknown, client: Omit<AuditActor, 'userId'>, at = now()): Promise<Result<{ consent: 'given' | 'refused' }>> {
  if (typeof given !== 'boolean') return fail('invalid', 'Choose yes or no.');
  const consent = given ? 'given' : 'refused';
  const db = await getDb();
  await db.transaction(async (tx) => {
    await tx.update(visits).set({ consent, consentAt: at }).where(eq(visits.id, guest.visitId));
    await recordAudit(tx, { actor: patientActor(client), action: auditActions.visit.consent, resourceType: 'visit', resourceId: guest.visitId, patientId: guest.patientId, outcome: 'allowed', details: { consent, withdrawn: guest.consent === 'given' && !given } });
  });
  deliver(guest.visitId, 'clinician', { type: 'consent', given });
  return ok({ consent });
}

export const patientSignals = (guest: PatientGuest, lastEventId: number) => eventStream(guest.visitId, 'patient', lastEventId);

export function patientSignal(guest: PatientGuest, message: SignalMessage): void {
  deliver(guest.visitId, 'clinician', message);
}
