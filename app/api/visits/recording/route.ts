import { guardedRoute } from '@/lib/features/auth/entry';
import { isSameOriginFetch } from '@/lib/features/auth/request';
import { startRecording } from '@/lib/features/visits';

export const dynamic = 'force-dynamic';

const noStore = { 'Cache-Control': 'no-store' };

/** POST /api/visits/recording?visit=…&type=…: starts recording, if the patient said yes. */
export const POST = guardedRoute(
  startRecording,
  (request) => {
    const query = new URL(request.url).searchParams;
    return isSameOriginFetch(request) ? { visitId: query.get('visit'), mimeType: query.get('type') } : null;
  },
  (result) => (result.ok ? Response.json(result.value, { headers: noStore }) : Response.json({ error: result.message }, { status: result.error === 'invalid' ? 400 : 403, headers: noStore })),
  () => Response.json({ error: 'Sign in to record this visit.' }, { status: 401, headers: noStore }),
);
