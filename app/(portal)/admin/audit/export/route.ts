import { z } from 'zod';
import { getViewer } from '@/lib/features/auth/current';
import { exportAuditLog, type ExportFormat } from '@/lib/features/audit-review/export';

export const dynamic = 'force-dynamic';

const formatSchema = z.enum(['csv', 'fhir']).catch('csv');

/**
 * GET /admin/audit/export?format=csv|fhir&<filters>: the filtered trail as a download. The
 * viewer is checked again here (a route handler is its own entry point), and the export is
 * recorded before the first byte is sent.
 */
export async function GET(request: Request): Promise<Response> {
  const viewer = await getViewer();
  if (!viewer) return new Response('Sign in to export the audit trail.', { status: 401, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
  const params = Object.fromEntries(new URL(request.url).searchParams);
  const format: ExportFormat = formatSchema.parse(params.format);
  const result = await exportAuditLog(viewer, params, format);
  if (!result.ok) {
    return new Response(result.message, { status: result.error === 'denied' ? 403 : 400, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
  }
  const { chunks, contentType, filename } = result.value;
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
}
