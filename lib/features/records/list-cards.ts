import 'server-only';
import { inArray, sql, type SQL } from 'drizzle-orm';
import type { AnyPgColumn } from 'drizzle-orm/pg-core';
import { inChunks, type Queryable } from '@/db/client';
import { patientKeys, patients } from '@/db/schema';
import type { Demographics } from '@/lib/domain/chart/sections';
import { DecryptionError, getPatientCiphers } from '@/lib/platform/crypto';
import { env } from '@/lib/platform/env';
import { reachablePatientRows, type RelationshipSubject } from '@/lib/pipeline/relationship';

/** What the patient list and its searches need of a patient's sealed demographics. */
export type ListCard = Pick<Demographics, 'familyName' | 'givenName' | 'dateOfBirth' | 'mrn' | 'sex'>;

/**
 * A caseload of thousands must not be decrypted on every list or search, so each patient's list
 * card is opened once and kept in this process's memory, never in the database: an index there
 * would leak, this leaks nothing the process does not already hold (it keeps the same patient's
 * data key for as long, VIGIL_KEY_CACHE_SECONDS, and a data key opens far more than a card).
 *
 * A card is used only while the stored envelope is the one it was opened from (its last
 * characters, which end in the envelope's authentication tag, are compared on every request)
 * and the patient's data key is still live, so a changed, swapped or shredded row is seen at
 * once. Which patients the viewer may list is decided per request by the caller, never cached.
 */
const CARDS_MAX = 20_000;
/** The tail of a sealed value: its GCM tag and a few ciphertext bytes, different for every sealing. */
const TAG_CHARS = 24;

interface Held {
  tag: string;
  card: ListCard;
  expires: number;
}
const globalForCards = globalThis as unknown as { vigilListCards?: Map<string, Held> };
const held = (globalForCards.vigilListCards ??= new Map());

function keep(patientId: string, tag: string, card: ListCard, now: number): void {
  const seconds = env().VIGIL_KEY_CACHE_SECONDS;
  if (seconds <= 0) return;
  held.delete(patientId);
  if (held.size >= CARDS_MAX) {
    const oldest = held.keys().next().value;
    if (oldest !== undefined) held.delete(oldest);
  }
  held.set(patientId, { tag, card, expires: now + seconds * 1000 });
}

/**
 * The last TAG_CHARS of a sealed value, cut by bytes: an envelope is ASCII, and `right()` counts
 * UTF-8 characters from the start of each value, a tenth of the list's SQL time at 5,000.
 */
const tail = (column: AnyPgColumn) =>
  sql<string>`encode(substring(textsend(${column}) from octet_length(${column}) - ${sql.raw(String(TAG_CHARS - 1))}), 'escape')`.as('tag');

/** Forgets every card (tests that swap keys), or one patient's. */
export function forgetListCards(patientId?: string): void {
  if (patientId) held.delete(patientId);
  else held.clear();
}

export interface ListedCard {
  id: string;
  card: ListCard;
  /** Tied by a care-team row (else by this session's break-glass grant). */
  onTeam: boolean;
}

/**
 * The cards of the viewer's reachable patients that match `filter` (a blind-index condition on
 * patients) and whose data key is live, read with the viewer's ties in one statement
 * (reachablePatientRows), opening only those not already held. A card that will not open is
 * counted as unavailable.
 */
export async function listCards(q: Queryable, viewer: RelationshipSubject, at: Date, filter?: SQL): Promise<{ listed: ListedCard[]; unavailable: number }> {
  const now = Date.now();
  const reachable = await reachablePatientRows(q, viewer, at, {
    columns: {
      tag: tail(patients.sealedDemographics),
      // A scalar subquery, one primary-key probe per patient: as EXISTS the planner may hash every key row instead.
      live: sql<boolean | null>`(select ${patientKeys.wrappedKey} is not null and ${patientKeys.shreddedAt} is null from ${patientKeys} where ${patientKeys.patientId} = ${patients.id})`.as('live'),
    },
    where: filter,
  });
  const listed: ListedCard[] = [];
  const missing = new Map<string, { tag: string; onTeam: boolean }>();
  for (const {
    patientId: id,
    onTeam,
    patient: { tag, live },
  } of reachable) {
    const hit = held.get(id);
    if (!live) {
      held.delete(id);
      continue;
    }
    if (hit && hit.tag === tag && hit.expires > now) listed.push({ id, card: hit.card, onTeam });
    else missing.set(id, { tag, onTeam });
  }
  if (missing.size === 0) return { listed, unavailable: 0 };

  const ids = [...missing.keys()];
  const sealed = await inChunks(ids, (chunk) => q.select({ id: patients.id, sealed: patients.sealedDemographics }).from(patients).where(inArray(patients.id, chunk)));
  const { ciphers } = await getPatientCiphers(q, ids);
  let unavailable = 0;
  for (const row of sealed) {
    const cipher = ciphers.get(row.id);
    if (!cipher) continue;
    let d: Demographics;
    try {
      d = cipher.open<Demographics>('patients', 'sealed_demographics', row.id, row.sealed);
    } catch (error) {
      if (!(error instanceof DecryptionError)) throw error;
      unavailable += 1;
      continue;
    }
    const card: ListCard = { familyName: d.familyName, givenName: d.givenName, dateOfBirth: d.dateOfBirth, mrn: d.mrn, sex: d.sex };
    const { tag, onTeam } = missing.get(row.id)!;
    // The tag read with the list, not the envelope's own: a row rewritten between the two reads
    // is opened again next time instead of being held under the newer tag.
    if (row.sealed.endsWith(tag)) keep(row.id, tag, card, now);
    listed.push({ id: row.id, card, onTeam });
  }
  return { listed, unavailable };
}
