import { healthStatus } from '@/lib/platform/health';

export const dynamic = 'force-dynamic';

export async function GET() {
  const health = await healthStatus();
  return Response.json({ app: 'vigil', ...health }, { status: health.status === 'ok' ? 200 : 503 });
}
