import Link from 'next/link';
import { ActionForm } from '@/components/chart/action-form';
import { requireViewer } from '@/lib/features/auth/current';
import { listNotifications, receivesNotifications } from '@/lib/features/notify';
import { formatTime } from '../format';
import { markReadAction } from './actions';

export default async function NotificationsPage() {
  const viewer = await requireViewer();
  if (!receivesNotifications(viewer)) return <p role="alert" className="text-sm text-red-700">You do not have access to this page.</p>;
  const notices = await listNotifications(viewer);
  return (
    <div className="space-y-4">
      <div className="flex items-baseline justify-between">
        <h1 className="text-xl font-semibold">Notifications</h1>
        <ActionForm action={markReadAction} hidden={{}} submitLabel="Mark all as read" className="flex items-center gap-3" />
      </div>
      <ul className="divide-y divide-slate-100 rounded-lg border border-slate-200 bg-white" data-testid="notifications">
        {notices.map((n) => (
          <li key={n.id} data-kind={n.kind} data-read={n.read} className="flex items-baseline gap-3 px-4 py-3 text-sm">
            {!n.read && <span role="img" className="h-2 w-2 shrink-0 rounded-full bg-red-600" aria-label="Unread" />}
            <span className="w-40 shrink-0 text-xs text-slate-500">{formatTime(n.createdAt)}</span>
            <span className="flex-1">{n.message}</span>
            {n.link?.startsWith('/') && !n.link.startsWith('//') && <Link href={n.link} className="text-calm hover:underline">Open</Link>}
          </li>
        ))}
        {notices.length === 0 && <li className="px-4 py-3 text-sm text-slate-500">No notifications.</li>}
      </ul>
    </div>
  );
}
