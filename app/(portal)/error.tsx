'use client';

/**
 * What a signed-in user sees when a portal page fails on the server — for instance when the
 * audit entry of a chart view cannot be written, so the chart is withheld (fail closed). A plain
 * sentence and the error's digest as a reference the service desk can find in the server log;
 * never the message or the stack, which could carry details of the record.
 */
export default function PortalError({ error, retry }: { error: unknown; retry: () => void }) {
  const digest = error instanceof Error && 'digest' in error && typeof error.digest === 'string' ? error.digest : null;
  return (
    <div role="alert" className="mx-auto max-w-xl rounded-lg border border-slate-200 bg-white p-6">
      <h1 className="text-xl font-semibold text-calm">This page could not be shown</h1>
      <p className="mt-2 text-sm text-slate-600">
        Something went wrong on our side. A change you were making was saved only if the page told you so. Try again in
        a moment; if it keeps happening, contact the service desk and quote the reference below.
      </p>
      {digest && (
        <p className="mt-4 text-sm text-slate-500">
          Reference: <code data-testid="error-reference">{digest}</code>
        </p>
      )}
      <button type="button" onClick={() => retry()} className="mt-6 rounded-md bg-calm px-4 py-2 text-sm font-medium text-white">
        Try again
      </button>
    </div>
  );
}
