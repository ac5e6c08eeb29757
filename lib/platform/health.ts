import 'server-only';
import { sql } from 'drizzle-orm';
import { getDatabase, rowsOf } from '@/db/client';
import { getKeyProvider } from '@/lib/platform/crypto/key-provider';
import { KeysUnavailableError, type KeyProblem } from '@/lib/platform/crypto/keys-unavailable';

export interface HealthStatus {
  status: 'ok' | 'degraded';
  database: 'ok' | 'unavailable';
  kind?: string;
  /** The master keys: usable, or the named problem (a fixed word, never a secret or a path). */
  keys: 'ok' | KeyProblem;
}

/**
 * Liveness of the app, its database and its master keys, without any detail an attacker could
 * use: the key problem is one of a fixed list of words an operator can act on.
 */
export async function healthStatus(): Promise<HealthStatus> {
  let database: HealthStatus['database'] = 'ok';
  let kind: string | undefined;
  let versionsInUse: number[] = [];
  try {
    const handle = await getDatabase();
    kind = handle.kind;
    const rows = await handle.db.execute(sql`SELECT DISTINCT master_key_version AS v FROM patient_keys WHERE wrapped_key IS NOT NULL`);
    versionsInUse = rowsOf<{ v: number }>(rows).map((r) => Number(r.v));
  } catch {
    database = 'unavailable';
  }
  const keys = keyStatus(versionsInUse);
  const status = database === 'ok' && keys === 'ok' ? 'ok' : 'degraded';
  return database === 'ok' ? { status, database, kind, keys } : { status, database, keys };
}

function keyStatus(versionsInUse: number[]): HealthStatus['keys'] {
  try {
    const provider = getKeyProvider();
    const held = new Set(provider.versions());
    if (versionsInUse.some((v) => !held.has(v))) return 'key_version_missing';
    // A live token, and the secrets the trail and searches need.
    provider.probe?.();
    provider.systemKey();
    provider.blindIndexKey();
    return 'ok';
  } catch (error) {
    if (error instanceof KeysUnavailableError) return error.problem;
    return 'misconfigured';
  }
}
