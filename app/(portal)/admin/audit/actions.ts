'use server';

import { guardedAction } from '@/lib/features/auth/entry';
import { verifyNow } from '@/lib/features/audit-review/status';

export interface VerifyState {
  state: 'idle' | 'ok' | 'broken' | 'error';
  message: string | null;
}

/** "Verify now": a full walk of the chain (recorded), which moves the signed checkpoint on success. */
export const verifyNowAction = guardedAction(
  verifyNow,
  (_viewer, _previous: VerifyState) => ({}),
  async (granted): Promise<VerifyState> => {
    const result = granted.ok ? await granted.value.run() : granted;
    if (!result.ok) return { state: 'error', message: result.message };
    const { state, summary } = result.value;
    return { state: state === 'ok' ? 'ok' : 'broken', message: summary };
  },
);
