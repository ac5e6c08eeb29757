'use server';

import { getViewerState } from '@/lib/features/auth/current';
import { signOut } from '@/lib/features/auth/next-auth';
import { endSession } from '@/lib/features/auth/sign-out';

export async function signOutAction(): Promise<void> {
  // The state, not getViewer(): an account still owing its MFA enrolment may sign out too.
  const { viewer } = await getViewerState();
  if (viewer) await endSession(viewer);
  await signOut({ redirectTo: '/login?reason=signed_out' });
}
