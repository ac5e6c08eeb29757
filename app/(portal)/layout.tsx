import { TopBar } from '@/components/top-bar';
import { navigationFor } from '@/lib/access/navigation';
import { requireViewer } from '@/lib/auth/current';

export const dynamic = 'force-dynamic';

export default async function PortalLayout({ children }: { children: React.ReactNode }) {
  const viewer = await requireViewer();
  return (
    <>
      <TopBar displayName={viewer.displayName} roles={viewer.roles} links={navigationFor(viewer)} />
      <main className="mx-auto max-w-6xl px-4 py-6">{children}</main>
    </>
  );
}
