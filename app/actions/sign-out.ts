'use server';

import { getViewer } from '@/lib/auth/current';
import { signOut } from '@/lib/auth/next-auth';
import { endSession } from '@/lib/auth/sign-out';

export async function signOutAction(): Promise<void> {
  const viewer = await getViewer();
  if (viewer) await endSession(viewer);
  await signOut({ redirectTo: '/login?reason=signed_out' });
}
