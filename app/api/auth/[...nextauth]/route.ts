import { publicEntry } from '@/lib/features/auth/entry';
import { handlers } from '@/lib/features/auth/next-auth';

const whyPublic = 'Auth.js’s own sign-in, callback and session routes: they run before there is a viewer.';

export const GET = publicEntry('auth.handlers.get', whyPublic, handlers.GET);
export const POST = publicEntry('auth.handlers.post', whyPublic, handlers.POST);
