import { publicEntry } from '@/lib/features/auth/entry';
import { handlers } from '@/lib/features/auth/next-auth';
import { withoutSessionId } from '@/lib/features/auth/session-route';
import { withBodyCap } from '@/lib/platform/request-body';

/** Sign-in forms and provider callbacks are a few kilobytes; a larger body is refused unread. */
const AUTH_BODY_LIMIT = 32 * 1024;

const whyPublic = 'Auth.js’s own sign-in, callback and session routes: they run before there is a viewer.';

export const GET = publicEntry('auth.handlers.get', whyPublic, withoutSessionId(handlers.GET));
export const POST = publicEntry('auth.handlers.post', whyPublic, withBodyCap(handlers.POST, AUTH_BODY_LIMIT));
