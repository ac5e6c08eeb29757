import { expect } from 'vitest';
import type { Db } from '@/db/client';
import { DEMO_PASSWORD } from '@/db/seed';
import type { Viewer } from '@/lib/domain/access/viewer';
import { decideAdminRequest } from '@/lib/features/admin';
import { viewer } from '@/test/fixtures';

/** What an operation answers when it filed a request for a second person. */
type Filing = { ok: true; value: { requestId: string | null } } | { ok: false; error: string };

/** The filed request's id; fails the test when the change was refused or made at once. */
export function filedRequest(result: Filing): string {
  if (!result.ok) throw new Error(`refused: ${result.error}`);
  if (!result.value.requestId) throw new Error('made at once, not filed for a second person');
  return result.value.requestId;
}

/** The second administrator of the demo (seeded), signed in now. */
export const secondAdmin = (db: Db): Promise<Viewer> => viewer(db, 'admin2@vigil.test');

/** Approves a filed request as `approver` (password typed now), and expects it to be made. */
export async function approve(approver: Viewer, result: Filing): Promise<void> {
  const decided = await decideAdminRequest(approver, { requestId: filedRequest(result), decision: 'approve', adminPassword: DEMO_PASSWORD });
  expect(decided, JSON.stringify(decided)).toMatchObject({ ok: true, value: { status: 'approved' } });
}
