/**
 * The patient banner by role lens: every role that opens the chart sees who the patient is, and
 * allergies appear for exactly the roles that may read them (the banner is built from the
 * chart's view model, which holds only the sections the policy allowed).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasPermission } from '@/lib/domain/access/permissions';
import { chartPermission } from '@/lib/domain/access/permission-names';
import { defaultRoles } from '@/lib/domain/access/roles';
import { patientBanner } from '@/lib/domain/chart/banner';
import { getChart } from '@/lib/features/records';
import { now } from '@/lib/platform/clock';
import { and, eq, inArray } from 'drizzle-orm';
import { careTeam, users } from '@/db/schema';
import { getPatientCipher } from '@/lib/platform/crypto';
import { insertEntry } from '@/lib/features/records/writes';
import { testDatabase, viewer as signIn } from '@/test/fixtures';
import type { TestDatabase } from '@/test/db';

let handle: TestDatabase;
let patientId: string;
beforeAll(async () => {
  handle = await testDatabase({ patients: 12 });
  const db = handle.db;
  // One patient on all three care teams, with a severe allergy only this test writes.
  const staff = await db.select({ id: users.id }).from(users).where(inArray(users.email, ['physician@vigil.test', 'nurse@vigil.test', 'billing@vigil.test']));
  const rows = await db.select({ patientId: careTeam.patientId, userId: careTeam.userId }).from(careTeam).where(inArray(careTeam.userId, staff.map((s) => s.id)));
  const teams = new Map<string, number>();
  for (const r of rows) teams.set(r.patientId, (teams.get(r.patientId) ?? 0) + 1);
  patientId = [...teams].filter(([, n]) => n === 3).map(([id]) => id).sort()[0]!;
  const { cipher } = await getPatientCipher(db, patientId);
  await db.transaction((tx) => insertEntry(tx, cipher!, 'allergies', null, { substance: MARKER, reaction: 'Anaphylaxis', severity: 'severe', notedOn: '2024-05-01' }));
  expect(await db.select().from(careTeam).where(and(eq(careTeam.patientId, patientId)))).not.toHaveLength(0);
});
afterAll(async () => handle?.close());

const MARKER = 'Banner-marker penicillin';

describe.each([
  ['physician', 'physician@vigil.test', true],
  ['nurse', 'nurse@vigil.test', true],
  ['billing', 'billing@vigil.test', false],
] as const)('the %s banner', (role, email, readsAllergies) => {
  it(`${readsAllergies ? 'shows' : 'never shows'} allergies, and always the identity`, async () => {
    // The expectation written out, and the role definition agreeing with it.
    expect(hasPermission(defaultRoles[role].permissions, 'ehr_read', chartPermission.allergies)).toBe(readsAllergies);
    const viewer = await signIn(handle.db, email);
    const chart = await getChart(viewer, patientId);
    if (!chart.ok) throw new Error(chart.message);
    const banner = patientBanner(chart.value.demographics, chart.value.sections.allergies, now());
    expect(banner.identity).toMatchObject({ mrn: expect.stringMatching(/^\d{8}$/), age: expect.stringMatching(/^\d+ (y|mo|d)$/) });
    if (readsAllergies) {
      expect(banner.allergies).toMatchObject({ status: 'ok', severe: true, items: expect.arrayContaining([{ substance: MARKER, reaction: 'Anaphylaxis', severity: 'severe' }]) });
      expect(banner.allergies!.status === 'ok' && banner.allergies!.items[0]!.severity).toBe('severe');
      const entries = chart.value.sections.allergies;
      expect(entries?.status === 'ok' && entries.entries.length).toBe(banner.allergies!.status === 'ok' && banner.allergies!.items.length);
    } else {
      expect(banner.allergies).toBeNull();
      expect(JSON.stringify(chart.value)).not.toContain(MARKER);
    }
  });
});
