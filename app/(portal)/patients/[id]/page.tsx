import Link from 'next/link';
import { AccessDenied } from '@/components/chart/access-denied';
import { ActionForm, Field } from '@/components/chart/action-form';
import { BreakGlassBanner } from '@/components/chart/break-glass-banner';
import { JumpLinks } from '@/components/chart/jump-links';
import { PatientBannerStrip } from '@/components/chart/patient-banner';
import { VitalsTrend, type VitalsPoint } from '@/components/chart/vitals-trend';
import { ChartSectionCard, SectionNotice, Table } from '@/components/chart/section';
import { patientBanner } from '@/lib/domain/chart/banner';
import { requireViewer } from '@/lib/features/auth/current';
import { now } from '@/lib/platform/clock';
import { getChart, type ChartEntry, type SectionView } from '@/lib/features/records';
import { DraftTextarea } from '@/components/chart/draft-textarea';
import { openDrafts, type Draft } from '@/lib/features/drafts';
import { addEntryAction, billingStatusAction, changeStatusAction, saveDraftAction } from './actions';
import { headers } from 'next/headers';
import { SmartAppsStrip } from '@/components/chart/smart-apps';
import { fhirBaseFor, launchableApps } from '@/lib/features/fhir';
import { launchAppAction } from './apps/actions';
import { VisitsCard } from '@/components/visits/visits-card';
import { listVisits } from '@/lib/features/visits';
import { startVisitAction } from './visits/actions';

type Body = Record<string, unknown>;

/** The chart's sections in page order, for the jump links. */
const sectionTitles = [
  { name: 'demographics', title: 'Demographics' },
  { name: 'insurance', title: 'Insurance' },
  { name: 'allergies', title: 'Allergies' },
  { name: 'medications', title: 'Medications' },
  { name: 'problems', title: 'Problems' },
  { name: 'vitals', title: 'Vitals' },
  { name: 'progress_notes', title: 'Progress notes' },
  { name: 'nursing_notes', title: 'Nursing notes' },
  { name: 'encounters', title: 'Encounters' },
] as const;
const text = (value: unknown) => (value === undefined || value === null ? '' : String(value));

export default async function ChartPage({ params }: { params: Promise<{ id: string }> }) {
  const viewer = await requireViewer();
  const { id } = await params;
  const opened = await getChart(viewer, id);
  if (!opened.ok) return <AccessDenied patientId={id} breakGlassOffered={opened.error === 'break_glass_offered'} />;
  const chart = opened.value;

  const canWrite = (section: string) => chart.writable.includes(section as never);
  const hidden = (section: string) => ({ patientId: chart.patientId, section });
  const d = chart.demographics?.status === 'ok' ? chart.demographics.value : null;
  const drafts = await openDrafts(viewer, chart.patientId);
  const draftOf = (form: string) => (drafts.ok ? drafts.value.find((d) => d.form === form) ?? null : null);
  const banner = patientBanner(chart.demographics, chart.sections.allergies, now());
  const visits = chart.sections.progress_notes ? await listVisits(viewer, { patientId: chart.patientId }) : null;
  const shown = sectionTitles.filter((s) => (s.name === 'demographics' ? chart.demographics : s.name === 'insurance' ? chart.insurance : chart.sections[s.name]));

  return (
    <div className="space-y-4">
      {chart.breakGlass && <BreakGlassBanner expiresAt={chart.breakGlass.expiresAt} reasonCode={chart.breakGlass.reasonCode} now={now().getTime()} />}
      <PatientBannerStrip banner={banner} />
      <div className="flex items-baseline justify-between gap-4">
        <JumpLinks sections={shown} />
        <Link href="/patients" className="shrink-0 text-sm text-calm hover:underline">← My patients</Link>
      </div>
      <SmartAppsStrip apps={await launchableApps()} patientId={chart.patientId} fhirBase={fhirBaseFor({ url: `http://${(await headers()).get('host') ?? 'localhost'}/`, headers: await headers() })} action={launchAppAction} />

      <VisitsCard patientId={chart.patientId} visits={visits?.ok ? visits.value : null} canStart={canWrite('progress_notes')} start={startVisitAction} />

      {chart.demographics && (
        <ChartSectionCard name="demographics" title="Demographics">
          {d ? (
            <dl className="grid grid-cols-2 gap-x-6 gap-y-1 text-sm md:grid-cols-4">
              <dt className="text-slate-500">MRN</dt><dd className="font-mono">{d.mrn}</dd>
              <dt className="text-slate-500">Date of birth</dt><dd>{d.dateOfBirth}</dd>
              <dt className="text-slate-500">Sex</dt><dd className="capitalize">{d.sex}</dd>
              <dt className="text-slate-500">Phone</dt><dd>{d.phone}</dd>
              <dt className="text-slate-500">Address</dt>
              <dd className="col-span-3">{d.address.line1}, {d.address.city}, {d.address.state} {d.address.postalCode}</dd>
            </dl>
          ) : (
            <SectionNotice status={chart.demographics.status as 'unavailable' | 'erased'} />
          )}
        </ChartSectionCard>
      )}

      {chart.insurance && (
        <ChartSectionCard name="insurance" title="Insurance">
          {chart.insurance.status === 'ok' ? (
            <dl className="grid grid-cols-2 gap-x-6 gap-y-1 text-sm md:grid-cols-4">
              <dt className="text-slate-500">Payer</dt><dd>{chart.insurance.value.payer}</dd>
              <dt className="text-slate-500">Plan</dt><dd>{chart.insurance.value.planName}</dd>
              <dt className="text-slate-500">Member ID</dt><dd className="font-mono">{chart.insurance.value.memberId}</dd>
              <dt className="text-slate-500">Group</dt><dd className="font-mono">{chart.insurance.value.groupNumber}</dd>
            </dl>
          ) : (
            <SectionNotice status={chart.insurance.status} />
          )}
        </ChartSectionCard>
      )}

      <div className="grid gap-4 md:grid-cols-2">
        <Section view={chart.sections.allergies} name="allergies" title="Allergies"
          head={['Substance', 'Reaction', 'Severity', 'Noted']}
          row={(b) => [text(b.substance), text(b.reaction), text(b.severity), text(b.notedOn)]}>
          {canWrite('allergies') && (
            <ActionForm action={addEntryAction} hidden={hidden('allergies')} submitLabel="Add allergy" className="mt-3 grid grid-cols-3 gap-2">
              <Field label="Substance" name="substance" maxLength={100} />
              <Field label="Reaction" name="reaction" />
              <label className="block text-xs font-medium text-slate-600">Severity
                <select name="severity" className="mt-1 block w-full rounded border border-slate-300 px-2 py-1 text-sm">
                  <option value="mild">Mild</option><option value="moderate">Moderate</option><option value="severe">Severe</option>
                </select>
              </label>
            </ActionForm>
          )}
        </Section>

        <Section view={chart.sections.medications} name="medications" title="Medications"
          head={['Medication', 'Dose', 'Frequency', 'Status', '']}
          row={(b, entry) => [
            text(b.name), `${text(b.dose)} ${text(b.route)}`, text(b.frequency), text(b.status),
            canWrite('medications') ? (
              <ActionForm action={changeStatusAction} submitLabel={b.status === 'active' ? 'Stop' : 'Restart'} className=""
                hidden={{ ...hidden('medications'), recordId: entry.id, version: entry.version, status: b.status === 'active' ? 'stopped' : 'active' }} />
            ) : null,
          ]}>
          {canWrite('medications') && (
            <ActionForm action={addEntryAction} hidden={hidden('medications')} submitLabel="Add medication" className="mt-3 grid grid-cols-4 gap-2">
              <Field label="Medication" name="name" maxLength={100} />
              <Field label="Dose" name="dose" maxLength={50} />
              <Field label="Route" name="route" maxLength={30} />
              <Field label="Frequency" name="frequency" maxLength={50} />
            </ActionForm>
          )}
        </Section>

        <Section view={chart.sections.problems} name="problems" title="Problems"
          head={['Problem', 'ICD-10', 'Onset', 'Status', '']}
          row={(b, entry) => [
            text(b.description), <span key="c" className="font-mono">{text(b.icd10)}</span>, text(b.onsetOn), text(b.status),
            canWrite('problems') ? (
              <ActionForm action={changeStatusAction} submitLabel={b.status === 'active' ? 'Resolve' : 'Reactivate'} className=""
                hidden={{ ...hidden('problems'), recordId: entry.id, version: entry.version, status: b.status === 'active' ? 'resolved' : 'active' }} />
            ) : null,
          ]}>
          {canWrite('problems') && (
            <ActionForm action={addEntryAction} hidden={hidden('problems')} submitLabel="Add problem" className="mt-3 grid grid-cols-3 gap-2">
              <Field label="Problem" name="description" />
              <Field label="ICD-10 code" name="icd10" maxLength={8} />
              <Field label="Onset" name="onsetOn" type="date" required={false} />
            </ActionForm>
          )}
        </Section>

        <Section view={chart.sections.vitals} name="vitals" title="Vitals"
          before={chart.sections.vitals?.status === 'ok' ? <VitalsTrend points={chart.sections.vitals.entries.map((e) => e.body as unknown as VitalsPoint)} /> : null}
          head={['Taken', 'HR', 'BP', 'Temp °C', 'RR', 'SpO₂']}
          row={(b) => [text(b.takenAt).slice(0, 16).replace('T', ' '), text(b.heartRate), `${text(b.systolic)}/${text(b.diastolic)}`, text(b.temperatureC), text(b.respiratoryRate), `${text(b.spo2)}%`]}>
          {canWrite('vitals') && (
            <ActionForm action={addEntryAction} hidden={hidden('vitals')} submitLabel="Record vitals" className="mt-3 grid grid-cols-3 gap-2" testId="vitals-form">
              <Field label="Heart rate" name="heartRate" type="number" />
              <Field label="Systolic" name="systolic" type="number" />
              <Field label="Diastolic" name="diastolic" type="number" />
              <Field label="Temperature °C" name="temperatureC" type="number" step="0.1" />
              <Field label="Respiratory rate" name="respiratoryRate" type="number" />
              <Field label="SpO₂ %" name="spo2" type="number" />
            </ActionForm>
          )}
        </Section>
      </div>

      <NotesSection view={chart.sections.progress_notes} name="progress_notes" title="Progress notes" writable={canWrite('progress_notes')} hidden={hidden('progress_notes')} draft={draftOf('progress_notes')} />
      <NotesSection view={chart.sections.nursing_notes} name="nursing_notes" title="Nursing notes" writable={canWrite('nursing_notes')} hidden={hidden('nursing_notes')} draft={draftOf('nursing_notes')} />

      <Section view={chart.sections.encounters} name="encounters" title="Encounters and billing"
        head={['Date', 'Type', 'CPT', 'ICD-10', 'Charge', 'Billing status']}
        row={(b, entry) => {
          const cpt = (b.cpt as Array<{ code: string; charge: number }>) ?? [];
          const total = cpt.reduce((sum, item) => sum + item.charge, 0);
          return [
            text(b.date), text(b.type), <span key="cpt" className="font-mono">{cpt.map((c) => c.code).join(', ')}</span>,
            <span key="icd" className="font-mono">{((b.icd10 as string[]) ?? []).join(', ')}</span>, `$${total.toFixed(2)}`,
            chart.billingStatusWritable ? (
              <ActionForm action={billingStatusAction} submitLabel="Set" className="flex items-center gap-2"
                hidden={{ patientId: chart.patientId, recordId: entry.id, version: entry.version }}>
                <select name="status" defaultValue={entry.billingStatus} aria-label="Billing status" className="rounded border border-slate-300 px-1 py-0.5 text-sm">
                  {['unbilled', 'submitted', 'paid', 'denied'].map((s) => <option key={s} value={s}>{s}</option>)}
                </select>
              </ActionForm>
            ) : text(entry.billingStatus),
          ];
        }} />
    </div>
  );
}

function Section({ view, name, title, head, row, before, children }: {
  view: SectionView | undefined;
  /** Shown above the table (a chart of the same rows). */
  before?: React.ReactNode;
  name: string;
  title: string;
  head: string[];
  row: (body: Body, entry: ChartEntry) => React.ReactNode[];
  children?: React.ReactNode;
}) {
  if (!view) return null;
  return (
    <ChartSectionCard name={name} title={title}>
      {view.status === 'ok' && before}
      {view.status === 'ok' ? <Table head={head} rows={view.entries.map((e) => row(e.body, e))} /> : <SectionNotice status={view.status} />}
      {view.status === 'ok' && children}
    </ChartSectionCard>
  );
}

function NotesSection({ view, name, title, writable, hidden, draft }: {
  view: SectionView | undefined;
  name: string;
  title: string;
  writable: boolean;
  hidden: Record<string, string>;
  draft: Draft | null;
}) {
  if (!view) return null;
  return (
    <ChartSectionCard name={name} title={title}>
      {view.status !== 'ok' ? <SectionNotice status={view.status} /> : (
        <ul className="space-y-3">
          {view.entries.map((entry) => (
            <li key={entry.id} className="border-l-4 border-calm-light pl-3 text-sm">
              <p className="text-xs text-slate-500">{text(entry.body.writtenAt).slice(0, 16).replace('T', ' ')} · {text(entry.body.author)}</p>
              <p className="whitespace-pre-wrap">{text(entry.body.text)}</p>
            </li>
          ))}
          {view.entries.length === 0 && <li className="text-sm text-slate-500">None recorded.</li>}
        </ul>
      )}
      {writable && view.status === 'ok' && (
        <ActionForm action={addEntryAction} hidden={hidden} submitLabel="Add note" className="mt-3 space-y-2">
          <DraftTextarea patientId={hidden.patientId!} form={name} name="text" label="New note" offered={draft} save={saveDraftAction} />
        </ActionForm>
      )}
    </ChartSectionCard>
  );
}
