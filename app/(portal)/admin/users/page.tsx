import Link from 'next/link';
import { AdminDenied, PageHeader, roleLabel, StatusBadge, TamperedRoles, When } from '@/components/admin/page-parts';
import { listUsers } from '@/lib/features/admin';
import { requireViewer } from '@/lib/features/auth/current';

export default async function UsersPage() {
  const viewer = await requireViewer();
  const users = await listUsers(viewer);
  if (!users.ok) return <AdminDenied />;
  const active = users.value.filter((u) => u.status === 'active').length;

  return (
    <div className="space-y-4">
      <PageHeader title="Users" description={`${users.value.length} accounts, ${active} active. Select an account to change its roles, reset its password or disable it.`}>
        <Link href="/admin/users/new" className="rounded-md bg-calm px-4 py-2 text-sm font-medium text-white hover:opacity-90">Create user</Link>
      </PageHeader>
      <div className="overflow-x-auto rounded-lg border border-slate-200 bg-white">
        <table className="w-full text-sm" data-testid="users-table">
          <thead className="bg-slate-100 text-left text-slate-600">
            <tr>
              <th className="px-4 py-2">Email</th>
              <th className="px-4 py-2">Name</th>
              <th className="px-4 py-2">Roles</th>
              <th className="px-4 py-2">Status</th>
              <th className="px-4 py-2">Last sign-in</th>
              <th className="px-4 py-2 text-right">Care-team assignments</th>
            </tr>
          </thead>
          <tbody>
            {users.value.map((user) => (
              <tr key={user.id} data-email={user.email} className="border-t border-slate-100 hover:bg-calm-light">
                <td className="px-4 py-2">
                  <Link href={`/admin/users/${user.id}`} className="font-medium text-calm hover:underline">{user.email}</Link>
                  {user.id === viewer.userId && <span className="ml-2 text-xs text-slate-500">(you)</span>}
                </td>
                <td className="px-4 py-2">{user.displayName}</td>
                <td className="px-4 py-2">
                  {user.roles.length ? user.roles.map(roleLabel).join(', ') : <span className="text-slate-500">No role</span>}
                  {user.tamperedRoles.length > 0 && <TamperedRoles names={user.tamperedRoles} />}
                </td>
                <td className="px-4 py-2"><StatusBadge status={user.status} /></td>
                <td className="px-4 py-2"><When iso={user.lastSignInAt} /></td>
                <td className="px-4 py-2 text-right tabular-nums">
                  {user.careTeamAssignments}
                  {user.tamperedAssignments > 0 && <span className="ml-1 text-xs text-red-700" data-testid="tampered-assignments">(+{user.tamperedAssignments} altered outside Vigil, not counted)</span>}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
