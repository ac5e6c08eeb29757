import { publicEntry } from '@/lib/features/auth/entry';
import { healthStatus } from '@/lib/platform/health';

export const dynamic = 'force-dynamic';

export const GET = publicEntry('health', 'Load balancers and monitoring probe it without signing in; it answers no PHI.', async () => {
  const health = await healthStatus();
  return Response.json({ app: 'vigil', ...health }, { status: health.status === 'ok' ? 200 : 503 });
});
