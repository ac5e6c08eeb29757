import 'server-only';
import { createHash } from 'node:crypto';
import { eq } from 'drizzle-orm';
import type { Queryable } from '@/db/client';
import { patients, visits } from '@/db/schema';
import { chartPermission } from '@/lib/domain/access/permission-names';
import { canBreakGlass, decide, type Decision } from '@/lib/domain/access/policy';
import type { Viewer } from '@/lib/domain/access/viewer';
import { loadRelationship } from '@/lib/pipeline/relationship';

/**
 * Who may do what with video visits, decided once here. A visit is a consultation whose record
 * is a progress note: conducting one (starting, recording) needs the progress-note write, and
 * watching a recording needs the progress-note read — care team or this session's break-glass
 * grant, never billing (whose role reads neither). Both go through the chart policy.
 */
export const conductPermission = { category: 'ehr_write', name: chartPermission.progress_notes } as const;
export const playbackPermission = { category: 'ehr_read', name: chartPermission.progress_notes } as const;

export async function visitDecision(q: Queryable, viewer: Viewer, patientId: string, use: 'conduct' | 'play', at: Date): Promise<Decision> {
  const relationship = await loadRelationship(q, viewer, patientId, at);
  return decide(viewer, relationship, use === 'conduct' ? 'write' : 'read', 'progress_notes');
}

export async function patientExists(q: Queryable, patientId: string): Promise<boolean> {
  const [row] = await q.select({ id: patients.id }).from(patients).where(eq(patients.id, patientId)).limit(1);
  return Boolean(row);
}

/** A refused playback offers emergency access when the viewer could use it (physician2), never to billing. */
export function offersBreakGlass(viewer: Viewer, decision: Decision): boolean {
  return !decision.allowed && decision.reason === 'no_relationship' && canBreakGlass(viewer);
}

export async function loadVisit(q: Queryable, visitId: string) {
  const [visit] = await q.select().from(visits).where(eq(visits.id, visitId)).limit(1);
  return visit ?? null;
}

/** Tokens and visit secrets are kept only as this digest: a copy of the table opens nothing. */
export function digest(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

export const visitMessages = {
  denied: 'You cannot conduct a video visit with this patient.',
  notFound: 'This visit is not available.',
  ended: 'This visit has ended.',
  playbackDenied: 'You do not have access to this recording.',
} as const;
