import Link from 'next/link';
import type { VisitSummary } from '@/lib/features/visits';
import { StartVisit, type StartState } from './start-visit';

const when = (iso: string) => iso.slice(0, 16).replace('T', ' ');
const consentLabel = { given: 'recording agreed', refused: 'recording declined' } as const;

/** The chart's video visits: start one (for those who may conduct it), and the recordings. */
export function VisitsCard({ patientId, visits, canStart, start }: {
  patientId: string;
  visits: VisitSummary[] | null;
  canStart: boolean;
  start: (previous: StartState, form: FormData) => Promise<StartState>;
}) {
  if (!canStart && !visits?.length) return null;
  return (
    <section className="rounded-lg border border-slate-200 bg-white p-4" data-testid="video-visits">
      <div className="flex items-center justify-between gap-4">
        <h2 className="font-semibold">Video visits</h2>
        {canStart && <StartVisit patientId={patientId} start={start} />}
      </div>
      {visits && visits.length > 0 && (
        <ul className="mt-3 space-y-2 text-sm">
          {visits.map((visit) => (
            <li key={visit.id} className="border-l-4 border-calm-light pl-3">
              <p>
                {when(visit.startedAt)} UTC · {visit.clinician} · {visit.endedAt ? 'ended' : <a className="text-calm hover:underline" href={`/patients/${patientId}/visits/${visit.id}`}>in progress</a>}
                {visit.consent && ` · ${consentLabel[visit.consent]}`}
              </p>
              {visit.recordings.map((r) => (
                <p key={r.id} className="text-xs">
                  <Link className="text-calm hover:underline" href={`/patients/${patientId}/recordings/${r.id}`}>Recording of {when(r.startedAt)}</Link>
                  {r.finished ? '' : ' (unfinished)'} · viewed {r.views} {r.views === 1 ? 'time' : 'times'}
                </p>
              ))}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
