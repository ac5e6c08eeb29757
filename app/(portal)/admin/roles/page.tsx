import Link from 'next/link';
import { AdminDenied, PageHeader, roleLabel } from '@/components/admin/page-parts';
import { permissionCategories } from '@/lib/domain/access/permissions';
import { listRoles } from '@/lib/features/admin';
import { requireViewer } from '@/lib/features/auth/current';
import { categoryLabels } from './labels';

export default async function RolesPage() {
  const viewer = await requireViewer();
  const roles = await listRoles(viewer);
  if (!roles.ok) return <AdminDenied />;

  return (
    <div className="space-y-4">
      <PageHeader title="Roles"
        description="What each role may do, as permission patterns. A person holding several roles gets all of their permissions. Changes apply to holders on their next request." />
      <div className="grid gap-4 md:grid-cols-2">
        {roles.value.map((role) => (
          <section key={role.name} className="rounded-lg border border-slate-200 bg-white p-4" data-role={role.name}>
            <div className="flex items-baseline justify-between gap-3">
              <h2 className="text-base font-semibold text-calm">{roleLabel(role.name)}</h2>
              <span className="text-xs text-slate-500">{role.holders} {role.holders === 1 ? 'person' : 'people'}</span>
            </div>
            <p className="mt-1 text-sm text-slate-600">{role.description}</p>
            <dl className="mt-3 space-y-1 text-sm">
              {permissionCategories.filter((c) => role.permissions[c]?.length).map((c) => (
                <div key={c} className="flex gap-2">
                  <dt className="w-28 shrink-0 text-slate-500">{categoryLabels[c].title}</dt>
                  <dd className="flex flex-wrap gap-1">{role.permissions[c]!.map((p) => <code key={p} className="rounded bg-slate-100 px-1.5 py-0.5 text-xs">{p}</code>)}</dd>
                </div>
              ))}
            </dl>
            <div className="mt-3 text-sm">
              {viewer.roles.includes(role.name)
                ? <span className="text-slate-500">You hold this role, so another administrator must edit it.</span>
                : <Link href={`/admin/roles/${role.name}`} className="text-calm hover:underline">Edit permissions</Link>}
            </div>
          </section>
        ))}
      </div>
    </div>
  );
}
