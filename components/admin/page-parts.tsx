import Link from 'next/link';

/** Shown when lib/features/admin refused a read: the refusal is already audited there. */
export function AdminDenied() {
  return (
    <div className="mx-auto max-w-xl rounded-lg border border-red-200 bg-white p-6" data-testid="admin-denied">
      <p className="text-sm font-semibold uppercase tracking-wide text-red-700">403 · Access denied</p>
      <h1 className="mt-1 text-xl font-semibold">You do not have access to this page</h1>
      <p className="mt-2 text-sm text-slate-600">Administration pages are for administrators. This attempt has been recorded.</p>
    </div>
  );
}

export function PageHeader({ title, description, back, children }: { title: string; description?: string; back?: { href: string; label: string }; children?: React.ReactNode }) {
  return (
    <div className="flex items-end justify-between gap-4">
      <div>
        {back && <Link href={back.href} className="text-sm text-calm hover:underline">← {back.label}</Link>}
        <h1 className="text-xl font-semibold">{title}</h1>
        {description && <p className="max-w-3xl text-sm text-slate-600">{description}</p>}
      </div>
      {children}
    </div>
  );
}

export function Panel({ title, children, testId }: { title: string; children: React.ReactNode; testId?: string }) {
  return (
    <section className="rounded-lg border border-slate-200 bg-white p-4" data-testid={testId}>
      <h2 className="mb-3 text-base font-semibold text-calm">{title}</h2>
      {children}
    </section>
  );
}

const statusStyles: Record<string, string> = {
  active: 'bg-green-100 text-green-800',
  disabled: 'bg-slate-200 text-slate-700',
  locked: 'bg-amber-100 text-amber-900',
  tampered: 'bg-red-100 text-red-800',
};

export function StatusBadge({ status }: { status: string }) {
  return <span className={`rounded px-2 py-0.5 text-xs font-medium capitalize ${statusStyles[status] ?? ''}`} data-status={status}>{status}</span>;
}

/** Role rows written outside Vigil: shown so the administrator sees them, apart from the roles held, and granting nothing. */
export function TamperedRoles({ names }: { names: string[] }) {
  return (
    <span className="ml-2 text-xs text-red-700" data-testid="tampered-roles">
      (altered outside Vigil, not held: {names.map(roleLabel).join(', ')})
    </span>
  );
}

/** Role names as people say them ("privacy_officer" → "Privacy officer"). */
export const roleLabel = (name: string) => name.charAt(0).toUpperCase() + name.slice(1).replace(/_/g, ' ');

/** Server-rendered times in UTC, so every admin reads the same value. */
export function When({ iso, empty = 'Never' }: { iso: string | null; empty?: string }) {
  if (!iso) return <span className="text-slate-500">{empty}</span>;
  return <time dateTime={iso}>{iso.slice(0, 16).replace('T', ' ')} UTC</time>;
}
