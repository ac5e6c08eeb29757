import Link from 'next/link';
import { connection } from 'next/server';

/**
 * Unknown paths. Rendered per request (connection()) so the page carries the request's CSP
 * nonce like every other page; it says nothing about what exists.
 */
export default async function NotFound() {
  await connection();
  return (
    <main className="flex min-h-screen items-center justify-center px-4">
      <div className="w-full max-w-md rounded-xl border border-slate-200 bg-white p-8 shadow-sm">
        <h1 className="text-xl font-semibold text-calm">Page not found</h1>
        <p className="mt-2 text-sm text-slate-600">There is no page at this address.</p>
        <Link href="/" className="mt-6 inline-block text-sm font-medium text-calm underline">
          Go to your home page
        </Link>
      </div>
    </main>
  );
}
