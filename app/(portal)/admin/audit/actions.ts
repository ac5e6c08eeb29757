'use server';

import { requireViewer } from '@/lib/features/auth/current';
import { verifyNow } from '@/lib/features/audit-review/status';

export interface VerifyState {
  state: 'idle' | 'ok' | 'broken' | 'error';
  message: string | null;
}

/** "Verify now": a full walk of the chain (recorded), which moves the signed checkpoint on success. */
export async function verifyNowAction(_previous: VerifyState): Promise<VerifyState> {
  const viewer = await requireViewer();
  const result = await verifyNow(viewer);
  if (!result.ok) return { state: 'error', message: result.message };
  const { state, summary } = result.value;
  return { state: state === 'ok' ? 'ok' : 'broken', message: summary };
}
