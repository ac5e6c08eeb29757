import { IdleTimeoutWarning } from '@/components/session/idle-timeout-warning';
import { TopBar } from '@/components/top-bar';
import { navigationFor } from '@/lib/domain/access/navigation';
import { requireViewerState } from '@/lib/features/auth/current';
import { countUnreadNotifications, receivesNotifications } from '@/lib/features/notify';

export const dynamic = 'force-dynamic';

export default async function PortalLayout({ children }: { children: React.ReactNode }) {
  // Pages check for themselves (requireViewer); here an account still owing its required MFA
  // enrolment (or a one-time password's change) gets the bare shell, so that page renders inside it.
  const { viewer, session, mfaEnrolmentPending, passwordChangePending } = await requireViewerState({ allowPendingMfa: true });
  const links = mfaEnrolmentPending || passwordChangePending ? [] : [...navigationFor(viewer), { href: '/account', label: 'Account' }];
  const unreadNotices = receivesNotifications(viewer) ? await countUnreadNotifications(viewer) : null;
  return (
    <>
      <TopBar displayName={viewer.displayName} roles={viewer.roles} links={links} unreadNotices={unreadNotices} />
      <main className="mx-auto max-w-6xl px-4 py-6">{children}</main>
      <IdleTimeoutWarning {...session} />
    </>
  );
}
