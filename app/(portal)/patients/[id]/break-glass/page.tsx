import Link from 'next/link';
import { redirect } from 'next/navigation';
import { requireViewer } from '@/lib/features/auth/current';
import { getBreakGlassPrompt, JUSTIFICATION_MAX, JUSTIFICATION_MIN } from '@/lib/features/break-glass';
import { BreakGlassRequestForm } from './request-form';

const refusalTitles = {
  not_permitted: 'Emergency access is not available to you',
  not_found: 'No patient matches this link',
  unavailable: 'This record is unavailable',
} as const;

export default async function BreakGlassPage({ params }: { params: Promise<{ id: string }> }) {
  const viewer = await requireViewer();
  const { id } = await params;
  const result = await getBreakGlassPrompt(viewer, id);
  if (!result.ok && result.error === 'has_access') redirect(`/patients/${id}`);
  if (!result.ok) {
    const title = result.error in refusalTitles ? refusalTitles[result.error as keyof typeof refusalTitles] : refusalTitles.not_permitted;
    return (
      <div className="mx-auto max-w-xl rounded-lg border border-red-200 bg-white p-6" data-testid="break-glass-refused">
        <h1 className="text-xl font-semibold">{title}</h1>
        <p className="mt-2 text-sm text-slate-600">{result.message}</p>
        <Link href="/" className="mt-4 inline-block text-sm text-calm hover:underline">Back</Link>
      </div>
    );
  }
  const prompt = result.value;
  const { identity } = prompt;
  return (
    <div className="mx-auto max-w-xl space-y-4">
      <div className="rounded-lg border-2 border-red-700 bg-white p-6">
        <p className="text-sm font-semibold uppercase tracking-wide text-red-700">Emergency access</p>
        <h1 className="mt-1 text-xl font-semibold">Open this chart without a care-team relationship</h1>
        <p className="mt-2 text-sm text-slate-600">
          Access lasts {prompt.windowMinutes} minutes, for this patient and this sign-in only. Everything you view or change
          is recorded, and a privacy officer is told now and reviews your reason afterwards.
        </p>
        <dl className="mt-4 grid grid-cols-[auto_1fr] gap-x-4 gap-y-1 rounded-md bg-slate-50 p-3 text-sm" data-testid="break-glass-identity">
          <dt className="text-slate-500">Patient</dt><dd className="font-medium">{identity.name}</dd>
          <dt className="text-slate-500">Date of birth</dt><dd>{identity.dateOfBirth}</dd>
          <dt className="text-slate-500">MRN</dt><dd className="font-mono">{identity.mrn}</dd>
        </dl>
        <p className="mt-2 text-xs text-slate-500">Check this is the patient you are treating before you continue.</p>
      </div>
      <div className="rounded-lg border border-slate-200 bg-white p-6">
        <BreakGlassRequestForm patientId={prompt.patientId} reasons={prompt.reasons} minLength={JUSTIFICATION_MIN} maxLength={JUSTIFICATION_MAX} />
      </div>
      <Link href="/patients" className="inline-block text-sm text-calm hover:underline">Cancel</Link>
    </div>
  );
}
