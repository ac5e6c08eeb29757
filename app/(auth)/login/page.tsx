import { redirect } from 'next/navigation';
import { getViewer, homeFor } from '@/lib/auth/current';
import { LoginForm } from './login-form';

const notices: Record<string, string> = {
  timeout: 'You were signed out after 15 minutes of inactivity.',
  expired: 'Your session reached its 12-hour limit. Sign in again.',
  revoked: 'Your session was ended. Sign in again.',
  disabled: 'Your session was ended. Contact the service desk if you need access.',
  signed_out: 'You have signed out.',
};

export default async function LoginPage({ searchParams }: { searchParams: Promise<{ reason?: string }> }) {
  const viewer = await getViewer();
  if (viewer) redirect(homeFor(viewer));
  const { reason } = await searchParams;
  return (
    <main className="flex min-h-screen items-center justify-center px-4">
      <div className="w-full max-w-sm rounded-xl border border-slate-200 bg-white p-8 shadow-sm">
        <h1 className="text-2xl font-semibold text-calm">Vigil</h1>
        <p className="mb-6 text-sm text-slate-500">Sign in to the clinician portal</p>
        <LoginForm notice={(reason && notices[reason]) || null} />
      </div>
    </main>
  );
}
