import { createTestDatabase, type TestDatabase } from '@/test/db';

export type BenchDatabaseKind = 'pglite' | 'postgres';

/** The databases a suite measures: PGlite always, PostgreSQL when VIGIL_BENCH_DATABASE_URL is set. */
export function benchDatabaseKinds(): BenchDatabaseKind[] {
  return ['pglite', ...(process.env.VIGIL_BENCH_DATABASE_URL ? (['postgres'] as const) : [])];
}

/**
 * A throwaway migrated database: in-memory PGlite, or a fresh database on the PostgreSQL server
 * VIGIL_BENCH_DATABASE_URL names (created and dropped as the tests do with
 * VIGIL_TEST_DATABASE_URL). It is installed as the process-wide database until closed.
 */
export async function scratchDatabase(kind: BenchDatabaseKind): Promise<TestDatabase> {
  const saved = process.env.VIGIL_TEST_DATABASE_URL;
  if (kind === 'postgres') process.env.VIGIL_TEST_DATABASE_URL = process.env.VIGIL_BENCH_DATABASE_URL;
  else delete process.env.VIGIL_TEST_DATABASE_URL;
  try {
    return await createTestDatabase();
  } finally {
    if (saved === undefined) delete process.env.VIGIL_TEST_DATABASE_URL;
    else process.env.VIGIL_TEST_DATABASE_URL = saved;
  }
}
