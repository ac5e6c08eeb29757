/** Recently viewed: the viewer's own last charts, newest first, only while they may still open them. */
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { careTeam } from '@/db/schema';
import { getChart, listPatients } from '@/lib/features/records';
import { testDatabase, viewer as signIn } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';

let handle: TestDatabase;
beforeAll(async () => {
  handle = await testDatabase({ patients: 8 });
});
afterAll(async () => handle?.close());

async function recent(email: string) {
  const result = await listPatients(await signIn(handle.db, email), {});
  if (!result.ok) throw new Error(result.message);
  return result.value;
}

describe('recently viewed', () => {
  it('lists the charts opened last, newest first, once each, and drops one the viewer may no longer open', async () => {
    const physician = await signIn(handle.db, 'physician@vigil.test');
    expect((await recent('physician@vigil.test')).recent).toEqual([]);
    const [a, b] = (await recent('physician@vigil.test')).rows.map((r) => r.id);
    for (const id of [a!, b!, a!]) expect((await getChart(physician, id)).ok).toBe(true);
    expect((await recent('physician@vigil.test')).recent.map((r) => r.id)).toEqual([a, b]);
    // Someone else's views are not mine.
    expect((await recent('nurse@vigil.test')).recent).toEqual([]);

    await handle.db.delete(careTeam).where(and(eq(careTeam.userId, physician.userId), eq(careTeam.patientId, a!)));
    expect((await recent('physician@vigil.test')).recent.map((r) => r.id)).toEqual([b]);
  });

  it('is left off search results', async () => {
    expect((await recent('physician@vigil.test')).recent.length).toBeGreaterThan(0);
    const searched = await listPatients(await signIn(handle.db, 'physician@vigil.test'), { q: '40000001' });
    expect(searched.ok && searched.value.recent).toEqual([]);
  });
});
