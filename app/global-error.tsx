'use client';

import './globals.css';

/**
 * The last-resort error page (the root layout itself failed). It shows a plain sentence and the
 * error's digest as a reference: the server logged the same digest with the (redacted) details.
 * Never the message or stack — in production Next replaces them anyway, but we do not rely on it.
 */
export default function GlobalError({ error, reset }: { error: Error & { digest?: string }; reset: () => void }) {
  return (
    <html lang="en">
      <body className="min-h-screen">
        <main className="flex min-h-screen items-center justify-center px-4">
          <div role="alert" className="w-full max-w-md rounded-xl border border-slate-200 bg-white p-8 shadow-sm">
            <h1 className="text-xl font-semibold text-calm">Something went wrong</h1>
            <p className="mt-2 text-sm text-slate-600">
              Vigil could not show this page. Nothing you entered was lost unless you were told it was saved. Try again, or
              contact the service desk and quote the reference below.
            </p>
            {error.digest ? (
              <p className="mt-4 text-sm text-slate-500">
                Reference: <code data-testid="error-reference">{error.digest}</code>
              </p>
            ) : null}
            <button type="button" onClick={reset} className="mt-6 rounded-md bg-calm px-4 py-2 text-sm font-medium text-white">
              Try again
            </button>
          </div>
        </main>
      </body>
    </html>
  );
}
