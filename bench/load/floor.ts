/**
 * The framework floor, measured in the same run as the load: closed-loop clients asking one
 * thing only, as fast as the portal answers. The sign-in page is a dynamic page that touches no
 * database, `/api/health` a route handler with one trivial query; the chart open is the same
 * loop on signed-in clinicians' charts, so its requests/s divided by the sign-in page's says how
 * much of a chart open is our own work rather than Next's.
 */
import { ClinicianClient, PortalError, type PatientLink } from './client';
import { percentile } from './run';

export interface FloorPhase {
  phase: 'sign-in page' | 'api/health' | 'chart open';
  requests: number;
  errors: number;
  perSecond: number;
  p50: number | null;
  p95: number | null;
}

async function closedLoop(
  phase: FloorPhase['phase'],
  clients: number,
  seconds: number,
  request: (client: number) => Promise<void>,
): Promise<FloorPhase> {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, client) => {
      while (performance.now() < deadline) {
        const t0 = performance.now();
        try {
          await request(client);
          latencies.push(performance.now() - t0);
        } catch {
          errors += 1;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const round = (v: number | null) => (v === null ? null : Math.round(v * 10) / 10);
  return { phase, requests: latencies.length, errors, perSecond: Math.round((latencies.length / elapsed) * 10) / 10, p50: round(percentile(latencies, 50)), p95: round(percentile(latencies, 95)) };
}

async function expectOk(response: Promise<Response>, what: string): Promise<void> {
  const reply = await response;
  await reply.arrayBuffer();
  if (reply.status !== 200) throw new PortalError(what, `status ${reply.status}`, reply.status);
}

export async function measureFloor(options: { baseUrl: string; clinicians: string[]; password: string; clients: number; seconds: number }): Promise<FloorPhase[]> {
  const { baseUrl, clients, seconds } = options;
  const signInPage = await closedLoop('sign-in page', clients, seconds, () => expectOk(fetch(`${baseUrl}/login`), 'sign-in page'));
  const health = await closedLoop('api/health', clients, seconds, () => expectOk(fetch(`${baseUrl}/api/health`), 'health'));
  // One at a time: password hashing is a bounded queue, and a crowd of sign-ins is refused as busy.
  const browsers: Array<{ client: ClinicianClient; caseload: PatientLink[] }> = [];
  for (let i = 0; i < clients; i++) {
    const client = new ClinicianClient(baseUrl);
    await client.signIn(options.clinicians[i % options.clinicians.length]!, options.password);
    browsers.push({ client, caseload: await client.searchPatients('', 'patient list') });
  }
  let turn = 0;
  const charts = await closedLoop('chart open', clients, seconds, async (i) => {
    const { client, caseload } = browsers[i]!;
    await client.openChart(caseload[turn++ % caseload.length]!.id);
  });
  return [signInPage, health, charts];
}
