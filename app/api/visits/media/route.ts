import { guardedRoute } from '@/lib/features/auth/entry';
import { playbackMedia } from '@/lib/features/visits';

export const dynamic = 'force-dynamic';

const plainText = { 'Content-Type': 'text/plain; charset=utf-8', 'Cache-Control': 'no-store' };

/** GET /api/visits/media?view=…: the bytes of an opened playback, with HTTP range requests. */
export const GET = guardedRoute(
  playbackMedia,
  (request) => ({ viewId: new URL(request.url).searchParams.get('view'), range: request.headers.get('range') }),
  (result) =>
    result.ok
      ? new Response(result.value.body as BodyInit | null, { status: result.value.status, headers: { ...result.value.headers, 'Cache-Control': 'no-store' } })
      : new Response(result.message, { status: result.error === 'erased' ? 410 : result.error === 'tampered' ? 422 : 403, headers: plainText }),
  () => new Response('Sign in to play this recording.', { status: 401, headers: plainText }),
);
