import { TopBar } from '@/components/top-bar';
import { navigationFor } from '@/lib/access/navigation';
import { requireViewer } from '@/lib/auth/current';
import { countUnreadNotifications, receivesNotifications } from '@/lib/notify';

export const dynamic = 'force-dynamic';

export default async function PortalLayout({ children }: { children: React.ReactNode }) {
  const viewer = await requireViewer();
  const unreadNotices = receivesNotifications(viewer) ? await countUnreadNotifications(viewer) : null;
  return (
    <>
      <TopBar displayName={viewer.displayName} roles={viewer.roles} links={navigationFor(viewer)} unreadNotices={unreadNotices} />
      <main className="mx-auto max-w-6xl px-4 py-6">{children}</main>
    </>
  );
}
