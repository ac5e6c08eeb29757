import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { isDatabaseUnavailable } from '@/lib/platform/database-unavailable';

/** The error postgres.js itself throws for `query`, made against `url` (nothing listens there). */
async function driverError(url: string, query: (sql: postgres.Sql) => Promise<unknown>, end = false): Promise<unknown> {
  const sql = postgres(url, { max: 1, connect_timeout: 2, onnotice: () => {} });
  if (end) await sql.end();
  try {
    await query(sql);
  } catch (error) {
    return error;
  } finally {
    await sql.end({ timeout: 1 });
  }
  throw new Error('the query did not fail');
}

describe('isDatabaseUnavailable', () => {
  it('recognises a refused connection and a closed client, as postgres.js reports them', async () => {
    const refused = await driverError('postgres://vigil@127.0.0.1:1/vigil', (sql) => sql`SELECT 1`);
    expect(isDatabaseUnavailable(refused)).toBe(true);
    const ended = await driverError('postgres://vigil@127.0.0.1:1/vigil', (sql) => sql`SELECT 1`, true);
    expect(isDatabaseUnavailable(ended)).toBe(true);
  });

  it('looks through the causes drizzle wraps driver errors in', () => {
    const driver = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' });
    expect(isDatabaseUnavailable(new Error('Failed query', { cause: driver }))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error('server closed the connection'), { code: '08006' }))).toBe(true);
    expect(isDatabaseUnavailable(Object.assign(new Error('cannot execute INSERT in a read-only transaction'), { code: '25006' }))).toBe(true);
  });

  it('leaves every other failure alone: a constraint, a redirect, a plain bug', () => {
    expect(isDatabaseUnavailable(Object.assign(new Error('duplicate key'), { code: '23505' }))).toBe(false);
    expect(isDatabaseUnavailable(Object.assign(new Error('NEXT_REDIRECT'), { digest: 'NEXT_REDIRECT;replace;/login;307;' }))).toBe(false);
    expect(isDatabaseUnavailable(new TypeError('x is undefined'))).toBe(false);
    expect(isDatabaseUnavailable(null)).toBe(false);
  });
});
