import Link from 'next/link';
import { headers } from 'next/headers';
import type { UserResourceType } from '@/lib/domain/access/smart-scopes';
import { getViewer } from '@/lib/features/auth/current';
import { authorizeMessages, consentRequest, fhirBaseFor, grantOnOffer } from '@/lib/features/fhir';
import { listPatients } from '@/lib/features/records';
import { approveAppAction } from './actions';

export const dynamic = 'force-dynamic';

const words: Record<UserResourceType, string> = {
  Patient: 'demographics',
  Coverage: 'insurance',
  AllergyIntolerance: 'allergies',
  MedicationStatement: 'medications',
  Condition: 'problems',
  Observation: 'vital signs',
  DocumentReference: 'notes',
  Encounter: 'encounters',
  AuditEvent: 'the audit trail (if your role reviews it)',
};

/** The provider's interaction cookies, and only them: the form carries them back to bind the answer to this browser. */
const interactionCookies = (cookie: string | null) =>
  (cookie ?? '').split(/;\s*/).filter((c) => c.startsWith('_interaction=') || c.startsWith('_interaction.sig=')).join('; ');

/** The SMART consent page (oidc-provider's interaction): which app, what it may read (within your role), and for which patient. */
export default async function ConsentPage({ params: route, searchParams }: { params: Promise<{ uid: string }>; searchParams: Promise<Record<string, string | undefined>> }) {
  const [{ uid }, params] = await Promise.all([route, searchParams]);
  const h = await headers();
  // The consent form's own address: the same Host rule the API and token endpoint apply.
  const fhirBase = fhirBaseFor({ url: `http://${h.get('host') ?? 'localhost'}/oauth/authorize`, headers: h });
  const cookie = interactionCookies(h.get('cookie'));
  const checked = await consentRequest(uid, cookie, fhirBase);
  const viewer = await getViewer();
  const frame = (body: React.ReactNode) => (
    <main className="flex min-h-screen items-center justify-center px-4">
      <div className="w-full max-w-md rounded-xl border border-slate-200 bg-white p-8 shadow-sm">
        <h1 className="mb-4 text-2xl font-semibold text-calm">Connect an app to Vigil</h1>
        {body}
      </div>
    </main>
  );
  if (!checked.ok) return frame(<p role="alert" className="text-sm text-slate-700">{checked.message}</p>);
  if (!viewer) {
    return frame(
      <p className="text-sm text-slate-700">
        <Link className="underline" href="/login">Sign in to Vigil</Link>, then open the app again.
      </p>,
    );
  }
  const request = checked.value;
  const grant = await grantOnOffer(request);
  const types = [...new Set([...grant.user, ...grant.patient])];
  // An EHR launch names its patient (the chart it was opened from); a standalone launch asks.
  const patients = grant.patient.length && !request.launch ? await listPatients(viewer, { q: '', page: 1 }) : null;
  const refusal = { invalid: authorizeMessages.patientNeeded, launch: authorizeMessages.launchInvalid, expired: authorizeMessages.expired }[params.refused ?? ''] ?? authorizeMessages.unknownApp;
  return frame(
    <form action={approveAppAction} className="space-y-4 text-sm text-slate-700">
      <p>
        <strong>{request.clientId}</strong> asks to read, as you and only within what your role may see:{' '}
        {types.length ? types.map((t) => words[t]).join(', ') : 'nothing'}.
      </p>
      {request.launch && grant.patient.length ? <p>For the patient whose chart you opened it from.</p> : null}
      {grant.openid ? <p>It learns who you are in Vigil{grant.fhirUser ? ': your name and your roles' : ''}.</p> : null}
      {grant.offlineAccess ? <p>It may stay connected while you remain signed in, without asking again.</p> : null}
      {params.refused ? <p role="alert" className="text-red-700">{refusal}</p> : null}
      {Object.entries({ interaction: uid, cookie, fhirBase, ...(request.launch ? { launch: '1' } : {}) }).map(([name, value]) => (
        <input key={name} type="hidden" name={name} value={value} />
      ))}
      {patients ? (
        <label className="block">
          <span className="mb-1 block font-medium">Patient</span>
          <select name="patient" required className="w-full rounded border border-slate-300 p-2">
            {patients.ok
              ? patients.value.rows.map((p) => (
                  <option key={p.id} value={p.id}>
                    {p.name} ({p.mrn})
                  </option>
                ))
              : null}
          </select>
        </label>
      ) : null}
      <p className="text-xs text-slate-500">Access ends when you sign out or your session times out. Every read is recorded.</p>
      <div className="flex gap-3">
        <button type="submit" className="rounded bg-calm px-4 py-2 font-medium text-white">
          Allow
        </button>
        <Link href="/" className="rounded border border-slate-300 px-4 py-2">
          Cancel
        </Link>
      </div>
    </form>,
  );
}
