import { NextResponse } from 'next/server';
import { peekSession } from '@/lib/features/auth/current';
import { publicEntry } from '@/lib/features/auth/entry';
import { signOut } from '@/lib/features/auth/next-auth';
import { loginPathFor, safeReturnPath } from '@/lib/features/auth/viewer-state';

export const dynamic = 'force-dynamic';

/**
 * Where a tab goes when its idle countdown reaches zero (it has already cleared its screen). The
 * server looks at the session without counting the look as activity and decides: over (it is
 * revoked and audited by the check) → the cookie is cleared and the browser goes to sign-in with
 * the reason; still live (activity the tab had not heard of) → back to the page it was on.
 * Safe as a GET: it can only end a session the server already considers ended.
 */
export const GET = publicEntry('session.idle-timeout', 'A tab whose idle countdown ran out comes here: its session is over, or nearly.', async (request: Request) => {
  const url = new URL(request.url);
  const state = await peekSession();
  if (state.viewer) {
    return NextResponse.redirect(new URL(safeReturnPath(url.searchParams.get('next')), url), 303);
  }
  await signOut({ redirect: false });
  return NextResponse.redirect(new URL(loginPathFor(state.reason), url), 303);
});
