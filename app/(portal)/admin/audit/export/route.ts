import { guardedRoute } from '@/lib/features/auth/entry';
import { exportAuditLog, type AuditExport } from '@/lib/features/audit-review/export';

export const dynamic = 'force-dynamic';

const plainText = { 'Content-Type': 'text/plain; charset=utf-8' };

/** The granted export as a download, read from the trail only as the browser takes it. */
const download = ({ chunks, contentType, filename }: AuditExport): Response => {
  const encoder = new TextEncoder();
  const iterator = chunks[Symbol.asyncIterator]();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = await iterator.next();
      if (next.done) controller.close();
      else controller.enqueue(encoder.encode(next.value));
    },
    async cancel() {
      await iterator.return?.(undefined);
    },
  });
  return new Response(body, {
    headers: {
      'Content-Type': contentType,
      'Content-Disposition': `attachment; filename="${filename}"`,
      'Cache-Control': 'no-store',
    },
  });
};

/**
 * GET /admin/audit/export?format=csv|fhir&<filters>: the filtered trail as a download. The
 * viewer is checked again here (a route handler is its own entry point), the request must come
 * from Vigil's own audit page (Fetch Metadata: never a link on another site), and the export is
 * recorded before the first byte is sent.
 */
export const GET = guardedRoute(
  exportAuditLog,
  (request) => Object.fromEntries(new URL(request.url).searchParams),
  (result) => (result.ok ? download(result.value) : new Response(result.message, { status: result.error === 'denied' ? 403 : 400, headers: plainText })),
  () => new Response('Sign in to export the audit trail.', { status: 401, headers: plainText }),
  { sameSiteOnly: true },
);
