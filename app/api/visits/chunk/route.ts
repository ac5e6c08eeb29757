import { guardedRoute } from '@/lib/features/auth/entry';
import { isSameOriginFetch } from '@/lib/features/auth/request';
import { addRecordingChunk } from '@/lib/features/visits';
import { readCappedBody } from '@/lib/platform/request-body';

export const dynamic = 'force-dynamic';

const noStore = { 'Cache-Control': 'no-store' };

/**
 * POST /api/visits/chunk?recording=…&index=…&last=0|1 with the chunk's bytes as the body. The
 * body is read only once the operation has checked who is sending it, and never past the cap.
 */
export const POST = guardedRoute(
  addRecordingChunk,
  (request) => {
    const query = new URL(request.url).searchParams;
    if (!isSameOriginFetch(request)) return null;
    return { recordingId: query.get('recording'), index: query.get('index'), last: query.get('last') === '1', readBody: (max: number) => readCappedBody(request, max) };
  },
  (result) => (result.ok ? Response.json(result.value, { headers: noStore }) : Response.json({ error: result.message }, { status: result.error === 'invalid' ? 400 : 409, headers: noStore })),
  () => Response.json({ error: 'Sign in to record this visit.' }, { status: 401, headers: noStore }),
);
