/**
 * What one request costs the database, counted by PostgreSQL itself (pg_stat_statements, loaded
 * by scripts/ensure-postgres.sh with PG_TEST_STATEMENTS=1): one signed-in clinician makes each
 * operation a few times in a row, and every statement the portal's role ran in between is
 * counted. BEGIN is among them; COMMIT is not (pg_stat_statements lists none for these
 * transactions), so each transaction is one round trip more than its count. Also the size of a chart as the
 * browser receives it: the HTML of a first visit and the RSC payload of a client navigation.
 */
import postgres from 'postgres';
import { ClinicianClient } from './client';
import { plausibleVitals } from './run';

export interface StatementCount {
  operation: string;
  /** Statements per request (mean over the repeats). */
  perRequest: number;
  /** The most frequent statements per request, normalised by PostgreSQL (no values). */
  top: Array<{ calls: number; query: string }>;
}

export interface ChartSize {
  htmlBytes: number;
  rscBytes: number;
}

const REPEATS = 5;

export async function countStatements(options: { baseUrl: string; ownerUrl: string; appRole: string; clinician: string; password: string }): Promise<{ statements: StatementCount[]; chart: ChartSize }> {
  const sql = postgres(options.ownerUrl, { max: 1, onnotice: () => {} });
  try {
    await sql`CREATE EXTENSION IF NOT EXISTS pg_stat_statements`;
    const client = new ClinicianClient(options.baseUrl);
    await client.signIn(options.clinician, options.password);
    const caseload = await client.searchPatients('', 'patient list');
    const patient = caseload[0]!;
    const chartHtml = await client.openChart(patient.id);
    let seed = 7;
    const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);

    const measure = async (operation: string, request: () => Promise<unknown>): Promise<StatementCount> => {
      await sql`SELECT pg_stat_statements_reset()`;
      for (let i = 0; i < REPEATS; i++) await request();
      const rows = await sql<Array<{ calls: string; query: string }>>`
        SELECT s.calls::text AS calls, s.query FROM pg_stat_statements s
        WHERE s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND s.userid = (SELECT oid FROM pg_roles WHERE rolname = ${options.appRole})
        ORDER BY s.calls DESC`;
      const total = rows.reduce((n, r) => n + Number(r.calls), 0);
      return {
        operation,
        perRequest: Math.round((total / REPEATS) * 10) / 10,
        top: rows.slice(0, 12).map((r) => ({ calls: Math.round((Number(r.calls) / REPEATS) * 10) / 10, query: r.query.replace(/\s+/g, ' ').slice(0, 160) })),
      };
    };
    const statements = [
      await measure('patient list', () => client.searchPatients('', 'patient list')),
      await measure('search', () => client.searchPatients(patient.name.split(',')[0]!.trim())),
      await measure('chart open', () => client.openChart(patient.id)),
      await measure('vitals write', () => client.recordVitals(patient.id, chartHtml, plausibleVitals(rand))),
    ];
    const html = await client.page('chart html', `/patients/${patient.id}`);
    // A client navigation's request: Next answers an RSC request without its `_rsc` cache key with
    // a redirect to the address that has it (empty for a request with no router state).
    const rsc = await client.page('chart rsc', `/patients/${patient.id}?_rsc`, { rsc: '1' });
    if (rsc.status !== 200 || rsc.bytes === 0) throw new Error(`The chart's RSC payload answered ${rsc.status} with ${rsc.bytes} bytes.`);
    return { statements, chart: { htmlBytes: html.bytes, rscBytes: rsc.bytes } };
  } finally {
    await sql.end({ timeout: 5 });
  }
}
