import { guardedRoute } from '@/lib/features/auth/entry';
import { isSameOriginFetch } from '@/lib/features/auth/request';
import { reportWatched } from '@/lib/features/visits';

export const dynamic = 'force-dynamic';

const noStore = { 'Cache-Control': 'no-store' };

/** POST /api/visits/watched?view=…&seconds=…: how far the player got, for "Viewed by". */
export const POST = guardedRoute(
  reportWatched,
  (request) => {
    const query = new URL(request.url).searchParams;
    return isSameOriginFetch(request) ? { viewId: query.get('view'), seconds: query.get('seconds') } : null;
  },
  (result) => new Response(null, { status: result.ok ? 204 : 403, headers: noStore }),
  () => new Response(null, { status: 401, headers: noStore }),
);
