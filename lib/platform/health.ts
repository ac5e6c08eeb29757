import 'server-only';
import { sql } from 'drizzle-orm';
import { getDatabase } from '@/db/client';

/** Liveness of the app and its database, without any detail an attacker could use. */
export async function healthStatus(): Promise<{ status: 'ok' | 'degraded'; database: 'ok' | 'unavailable'; kind?: string }> {
  try {
    const handle = await getDatabase();
    await handle.db.execute(sql`SELECT 1`);
    return { status: 'ok', database: 'ok', kind: handle.kind };
  } catch {
    return { status: 'degraded', database: 'unavailable' };
  }
}
