import Link from 'next/link';
import { signOutAction } from '@/app/actions/sign-out';

export interface NavLink {
  href: string;
  label: string;
}

const roleLabels: Record<string, string> = {
  physician: 'Physician',
  nurse: 'Nurse',
  billing: 'Billing',
  admin: 'Administrator',
  privacy_officer: 'Privacy officer',
};

export function TopBar({ displayName, roles, links, unreadNotices = null }: {
  displayName: string;
  roles: string[];
  links: NavLink[];
  /** Unread notices for roles that receive them (privacy officers); null hides the link. */
  unreadNotices?: number | null;
}) {
  const roleText = roles.map((r) => roleLabels[r] ?? r).join(', ') || 'No role';
  return (
    <header className="border-b border-slate-200 bg-white">
      <div className="mx-auto flex max-w-6xl items-center gap-6 px-4 py-3">
        <Link href="/" className="text-lg font-semibold text-calm">Vigil</Link>
        {/* An administrator has a dozen links: they wrap as whole labels, never mid-label. */}
        <nav className="flex flex-wrap gap-x-4 gap-y-1 text-sm">
          {links.map((link) => (
            <Link key={link.href} href={link.href} className="whitespace-nowrap text-slate-600 hover:text-calm">{link.label}</Link>
          ))}
        </nav>
        <div className="ml-auto flex shrink-0 items-center gap-4 whitespace-nowrap text-sm">
          {unreadNotices !== null && (
            <Link href="/admin/break-glass/notifications" data-testid="notifications-link" className="text-slate-600 hover:text-calm">
              Notifications
              {unreadNotices > 0 && (
                <span data-testid="notifications-unread" className="ml-1 rounded-full bg-red-600 px-1.5 py-0.5 text-xs font-semibold text-white">{unreadNotices}</span>
              )}
            </Link>
          )}
          <span data-testid="current-user" className="text-slate-700">
            <span className="font-medium">{displayName}</span> · <span>{roleText}</span>
          </span>
          <form action={signOutAction}>
            <button type="submit" className="rounded-md border border-slate-300 px-3 py-1 hover:bg-slate-100">Sign out</button>
          </form>
        </div>
      </div>
    </header>
  );
}
