import Link from 'next/link';

export function AccessDenied({ patientId, breakGlassOffered }: { patientId: string; breakGlassOffered: boolean }) {
  return (
    <div className="mx-auto max-w-xl rounded-lg border border-red-200 bg-white p-6" data-testid="access-denied">
      <p className="text-sm font-semibold uppercase tracking-wide text-red-700">403 · Access denied</p>
      <h1 className="mt-1 text-xl font-semibold">You do not have access to this chart</h1>
      <p className="mt-2 text-sm text-slate-600">
        Charts open only for members of the patient’s care team. This attempt has been recorded.
      </p>
      {breakGlassOffered && (
        <div className="mt-4 rounded-md border border-red-300 bg-red-50 p-4">
          <p className="text-sm text-red-900">
            If this is an emergency and you are treating this patient, you can request time-limited emergency access.
            You will need to give a reason, and a privacy officer will review every access.
          </p>
          <Link href={`/patients/${patientId}/break-glass`}
            className="mt-3 inline-block rounded-md bg-red-700 px-4 py-2 text-sm font-medium text-white hover:bg-red-800">
            Emergency access
          </Link>
        </div>
      )}
      <Link href="/patients" className="mt-4 inline-block text-sm text-calm hover:underline">Back to my patients</Link>
    </div>
  );
}
