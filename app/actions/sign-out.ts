'use server';

import { getViewerState } from '@/lib/features/auth/current';
import { publicEntry } from '@/lib/features/auth/entry';
import { signOut } from '@/lib/features/auth/next-auth';
import { endSession } from '@/lib/features/auth/sign-out';

export const signOutAction = publicEntry(
  'auth.sign-out',
  'Signing out must work for any session, even one that has already ended or still owes its MFA set-up.',
  async (): Promise<void> => {
    // The state, not getViewer(): an account still owing its MFA enrolment may sign out too.
    const { viewer } = await getViewerState();
    const ended = viewer ? await endSession(viewer) : null;
    // An SSO session's sign-in page offers the IdP's own sign-out (RP-initiated logout) as well.
    await signOut({ redirectTo: ended?.signedInThroughIdp ? '/login?reason=signed_out&idp=1' : '/login?reason=signed_out' });
  },
);
