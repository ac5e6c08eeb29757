import 'server-only';
import { randomBytes, randomUUID } from 'node:crypto';
import { and, desc, eq, inArray, isNull } from 'drizzle-orm';
import { z } from 'zod';
import type { Tx } from '@/db/client';
import { recordings, recordingViews, users, visitLinks, visits } from '@/db/schema';
import type { Viewer } from '@/lib/domain/access/viewer';
import { auditActions } from '@/lib/domain/audit/actions';
import { fail, ok, type Result } from '@/lib/domain/result';
import { JOIN_LINK_LIFETIME_MS, JOIN_PATH } from '@/lib/domain/visits/join-link';
import { operation, type Verdict } from '@/lib/pipeline/operation';
import { existingPatient } from '@/lib/features/break-glass/patient';
import { conductPermission, digest, loadVisit, patientExists, playbackPermission, visitDecision, visitMessages } from './access';
import { closeMailboxes, deliver, eventStream, parseSignal } from './signalling';
import { iceServersFor, type IceServer } from './turn';

type VisitRow = NonNullable<Awaited<ReturnType<typeof loadVisit>>>;

const visitIdInput = z.object({ visitId: z.uuid() });
const visitTarget = (raw: unknown) => (raw as { visitId?: unknown } | null)?.visitId;
const notAvailable = () => fail('denied', visitMessages.notFound);
const notSignal = 'That is not a call set-up message.';

/**
 * The visit's own clinician, still allowed to conduct it (care team or this session's grant),
 * on a visit that has not ended. Anyone else, and any id that names no visit, gets one answer.
 */
async function ownVisit(tx: Tx, viewer: Viewer, visitId: string, at: Date, options: { ended?: 'allow' } = {}): Promise<Verdict<VisitRow>> {
  const visit = await loadVisit(tx, visitId);
  if (!visit) return { allowed: false, reason: 'not_found', resourceId: visitId, answer: notAvailable() };
  const refused = (reason: string): Verdict<VisitRow> => ({ allowed: false, reason, resourceId: visitId, patientId: visit.patientId, answer: reason === 'visit_ended' ? fail('denied', visitMessages.ended) : notAvailable() });
  if (visit.clinicianId !== viewer.userId) return refused('not_visit_clinician');
  if (!(await visitDecision(tx, viewer, visit.patientId, 'conduct', at)).allowed) return refused('no_relationship');
  if (visit.endedAt && options.ended !== 'allow') return refused('visit_ended');
  return { allowed: true, facts: visit };
}

/** What every operation on the clinician's own visit declares: the visit by id, `ownVisit` as its check. */
const onOwnVisit = {
  resourceType: 'visit',
  permission: conductPermission,
  deniedMessage: visitMessages.denied,
  target: visitTarget,
  input: visitIdInput,
  authorize: ({ tx, viewer, input, at }: { tx: Tx; viewer: Viewer; input: { visitId: string }; at: Date }) => ownVisit(tx, viewer, input.visitId, at),
} as const;

/** The visit's links that could still be spent. */
const openLinksOf = (visitId: string) => and(eq(visitLinks.visitId, visitId), isNull(visitLinks.usedAt), isNull(visitLinks.revokedAt));

/** A video visit, started from the chart by a clinician who may write its progress note now. */
export const startVisit = operation({
  name: 'visits.start',
  action: auditActions.visit.start,
  resourceType: 'visit',
  permission: conductPermission,
  deniedMessage: visitMessages.denied,
  target: (raw) => (raw as { patientId?: unknown } | null)?.patientId,
  targetPatient: existingPatient,
  input: z.object({ patientId: z.uuid() }),
  invalid: () => fail('invalid', visitMessages.denied),
  authorize: async ({ tx, viewer, input, at }): Promise<Verdict<{ breakGlassGrantId: string | null }>> => {
    if (!(await patientExists(tx, input.patientId))) return { allowed: false, reason: 'not_found', resourceId: input.patientId };
    const decision = await visitDecision(tx, viewer, input.patientId, 'conduct', at);
    if (!decision.allowed) return { allowed: false, reason: decision.reason, patientId: input.patientId, resourceId: input.patientId };
    return { allowed: true, facts: { breakGlassGrantId: decision.breakGlassGrantId } };
  },
  run: async ({ tx, viewer, input, facts, at, audit }): Promise<Result<{ visitId: string }>> => {
    const id = randomUUID();
    await tx.insert(visits).values({ id, patientId: input.patientId, clinicianId: viewer.userId, breakGlassGrantId: facts.breakGlassGrantId, startedAt: at });
    await audit({ resourceId: id, patientId: input.patientId, breakGlassGrantId: facts.breakGlassGrantId });
    return ok({ visitId: id });
  },
});

/**
 * A one-time link for the patient. The token is shown to the clinician once and kept only as
 * its digest; a new link withdraws every earlier one of the visit that is still open.
 */
export const issueJoinLink = operation({
  name: 'visits.link',
  action: auditActions.visit.link,
  ...onOwnVisit,
  run: async ({ tx, facts: visit, at, audit }): Promise<Result<{ path: string; expiresAt: string }>> => {
    if (visit.patientJoinedAt) return fail('conflict', 'The patient has already joined this visit.');
    await tx.update(visitLinks).set({ revokedAt: at }).where(openLinksOf(visit.id));
    const token = randomBytes(32).toString('base64url');
    const expiresAt = new Date(at.getTime() + JOIN_LINK_LIFETIME_MS);
    const id = randomUUID();
    await tx.insert(visitLinks).values({ id, visitId: visit.id, tokenHash: digest(token), createdAt: at, expiresAt });
    await audit({ resourceId: visit.id, patientId: visit.patientId, details: { link: id, expiresAt: expiresAt.toISOString() } });
    return ok({ path: `${JOIN_PATH}#${token}`, expiresAt: expiresAt.toISOString() });
  },
});

export const revokeJoinLinks = operation({
  name: 'visits.link-revoke',
  action: auditActions.visit.linkRevoke,
  ...onOwnVisit,
  run: async ({ tx, facts: visit, at, audit }): Promise<Result<{ revoked: number }>> => {
    const revoked = await tx
      .update(visitLinks)
      .set({ revokedAt: at })
      .where(openLinksOf(visit.id))
      .returning({ id: visitLinks.id });
    await audit({ resourceId: visit.id, patientId: visit.patientId, details: { revoked: revoked.length } });
    return ok({ revoked: revoked.length });
  },
});

/** Ends the visit: open links die with it, the patient's secret stops working, both sides are told. */
export const endVisit = operation({
  name: 'visits.end',
  action: auditActions.visit.end,
  ...onOwnVisit,
  run: async ({ tx, facts: visit, at, audit }): Promise<Result<{ visitId: string; patientId: string }>> => {
    await tx.update(visits).set({ endedAt: at, guestSecretHash: null }).where(eq(visits.id, visit.id));
    await tx.update(visitLinks).set({ revokedAt: at }).where(openLinksOf(visit.id));
    const minutes = Math.round((at.getTime() - visit.startedAt.getTime()) / 60_000);
    await audit({ resourceId: visit.id, patientId: visit.patientId, details: { minutes, patientJoined: Boolean(visit.patientJoinedAt) } });
    return ok({ visitId: visit.id, patientId: visit.patientId });
  },
  afterCommit: ({ visitId }) => closeMailboxes(visitId),
});

export interface VisitRoom {
  visitId: string;
  patientId: string;
  startedAt: string;
  patientJoined: boolean;
  consent: 'given' | 'refused' | null;
  recording: { id: string; chunks: number } | null;
  iceServers: IceServer[];
}

/** The clinician's visit screen: the visit's state and this participant's ICE servers. */
export const openVisitRoom = operation({
  name: 'visits.room',
  action: auditActions.visit.signal,
  ...onOwnVisit,
  audits: 'refusals',
  run: async ({ tx, facts: visit, at }): Promise<Result<VisitRoom>> => {
    const [recording] = await tx
      .select({ id: recordings.id, chunks: recordings.chunkCount })
      .from(recordings)
      .where(and(eq(recordings.visitId, visit.id), isNull(recordings.finishedAt)))
      .limit(1);
    return ok({
      visitId: visit.id,
      patientId: visit.patientId,
      startedAt: visit.startedAt.toISOString(),
      patientJoined: Boolean(visit.patientJoinedAt),
      consent: (visit.consent as VisitRoom['consent']) ?? null,
      recording: recording ?? null,
      iceServers: iceServersFor(`c-${visit.id.slice(0, 8)}`, at),
    });
  },
});

/** The clinician's event stream of a visit (server-sent events). */
export const clinicianSignals = operation({
  name: 'visits.signals',
  action: auditActions.visit.signal,
  ...onOwnVisit,
  input: visitIdInput.extend({ lastEventId: z.number().int().min(0) }),
  audits: 'refusals',
  run: async ({ input }): Promise<Result<ReadableStream<Uint8Array>>> => ok(eventStream(input.visitId, 'clinician', input.lastEventId)),
});

/** One set-up message from the clinician's browser to the patient's. */
export const clinicianSignal = operation({
  name: 'visits.signal',
  action: auditActions.visit.signal,
  ...onOwnVisit,
  input: visitIdInput.extend({ readBody: z.custom<() => Promise<string | null>>((value) => typeof value === 'function') }),
  invalid: () => fail('invalid', notSignal),
  audits: 'refusals',
  run: async ({ input }): Promise<Result<null>> => {
    const message = parseSignal(await input.readBody());
    if (!message) return fail('invalid', notSignal);
    deliver(input.visitId, 'patient', message);
    return ok(null);
  },
});

export interface VisitSummary {
  id: string;
  startedAt: string;
  endedAt: string | null;
  clinician: string;
  consent: 'given' | 'refused' | null;
  recordings: { id: string; startedAt: string; finished: boolean; views: number }[];
}

/**
 * The chart's list of video visits and their recordings, for those who may watch them: dates,
 * who, the consent answer; no media. Audited when there is something to show.
 */
export const listVisits = operation({
  name: 'visits.list',
  action: auditActions.visit.list,
  resourceType: 'visit',
  permission: playbackPermission,
  deniedMessage: visitMessages.playbackDenied,
  target: (raw) => (raw as { patientId?: unknown } | null)?.patientId,
  input: z.object({ patientId: z.uuid() }),
  audits: 'refusals',
  authorize: async ({ tx, viewer, input, at }): Promise<Verdict<null>> => {
    const decision = await visitDecision(tx, viewer, input.patientId, 'play', at);
    return decision.allowed ? { allowed: true, facts: null } : { allowed: false, reason: decision.reason, resourceId: input.patientId };
  },
  run: async ({ tx, input, audit }): Promise<Result<VisitSummary[]>> => {
    const rows = await tx
      .select({ visit: visits, clinician: users.displayName })
      .from(visits)
      .innerJoin(users, eq(users.id, visits.clinicianId))
      .where(eq(visits.patientId, input.patientId))
      .orderBy(desc(visits.startedAt))
      .limit(50);
    if (rows.length === 0) return ok([]);
    const ids = rows.map((r) => r.visit.id);
    const recs = await tx.select().from(recordings).where(inArray(recordings.visitId, ids)).orderBy(recordings.startedAt);
    const views = recs.length ? await tx.select({ recordingId: recordingViews.recordingId }).from(recordingViews).where(inArray(recordingViews.recordingId, recs.map((r) => r.id))) : [];
    await audit({ patientId: input.patientId, details: { visits: rows.length, recordings: recs.length } });
    return ok(
      rows.map(({ visit, clinician }) => ({
        id: visit.id,
        startedAt: visit.startedAt.toISOString(),
        endedAt: visit.endedAt?.toISOString() ?? null,
        clinician,
        consent: (visit.consent as VisitSummary['consent']) ?? null,
        recordings: recs
          .filter((r) => r.visitId === visit.id)
          .map((r) => ({ id: r.id, startedAt: r.startedAt.toISOString(), finished: Boolean(r.finishedAt), views: views.filter((v) => v.recordingId === r.id).length })),
      })),
    );
  },
});
