import { AdminForm, TextField } from '@/components/admin/admin-form';
import { AdminDenied, PageHeader, When } from '@/components/admin/page-parts';
import { listAdminRequests, type RequestView } from '@/lib/features/admin';
import { requireViewer } from '@/lib/features/auth/current';
import { decideRequestAction } from './actions';

export const dynamic = 'force-dynamic';

const statusLabels: Record<RequestView['status'], string> = {
  pending: 'Waiting for approval',
  approved: 'Approved',
  refused: 'Refused',
  expired: 'Expired',
};

/**
 * Privileged changes waiting for a second person (the two-person rule): who asked for what, and
 * Approve / Refuse for those this viewer may decide. Why a viewer may not is said in plain words.
 */
export default async function RequestsPage() {
  const viewer = await requireViewer();
  const requests = await listAdminRequests(viewer);
  if (!requests.ok) return <AdminDenied />;
  const pending = requests.value.filter((r) => r.status === 'pending');
  const decided = requests.value.filter((r) => r.status !== 'pending');
  return (
    <div className="max-w-5xl space-y-4">
      <PageHeader
        title="Approvals"
        description="Granting roles, creating accounts with roles, resetting passwords, removing privacy-officer powers and changing role permissions take effect only when a second administrator approves them; monitor thresholds away from their defaults need a privacy officer. Nobody approves their own request, one from an account they created or empowered, or one that benefits them. A request lapses after 24 hours."
      />
      <section className="space-y-3" data-testid="pending-requests">
        <h2 className="text-base font-semibold">Waiting ({pending.length})</h2>
        {pending.length === 0 && <p className="text-sm text-slate-500">Nothing is waiting for approval.</p>}
        {pending.map((request) => (
          <article key={request.id} data-request-id={request.id} data-kind={request.kind} className="space-y-2 rounded-lg border border-amber-200 bg-white p-4 text-sm">
            <RequestFacts request={request} />
            {request.cannotDecide ? (
              <p className="rounded-md bg-slate-50 px-3 py-2 text-slate-700" data-testid="cannot-decide">{request.cannotDecide}</p>
            ) : (
              <div className="flex flex-wrap gap-4">
                <AdminForm action={decideRequestAction} hidden={{ requestId: request.id, decision: 'approve' }} submitLabel="Approve" testId="approve-form"
                  confirm={{ trigger: 'Approve…', prompt: `Approve: ${request.kindLabel}. It takes effect at once, recorded as approved by you.` }}>
                  <TextField label="Your password" name="adminPassword" type="password" autoComplete="current-password" hint="Approving always needs your password, typed now." />
                </AdminForm>
                <AdminForm action={decideRequestAction} hidden={{ requestId: request.id, decision: 'refuse' }} submitLabel="Refuse" tone="danger" testId="refuse-form"
                  confirm={{ trigger: 'Refuse…', prompt: 'Refuse this request? Nothing is changed; the requester can ask again.' }}>
                  <TextField label="Your password" name="adminPassword" type="password" autoComplete="current-password" />
                </AdminForm>
              </div>
            )}
          </article>
        ))}
      </section>
      {decided.length > 0 && (
        <section className="space-y-2" data-testid="decided-requests">
          <h2 className="text-base font-semibold">Decided and expired</h2>
          {decided.map((request) => (
            <article key={request.id} data-request-id={request.id} data-status={request.status} className="rounded-lg border border-slate-200 bg-white p-4 text-sm">
              <RequestFacts request={request} />
            </article>
          ))}
        </section>
      )}
    </div>
  );
}

function RequestFacts({ request }: { request: RequestView }) {
  return (
    <>
      <p className="flex flex-wrap items-baseline justify-between gap-2">
        <span className="font-medium">{request.kindLabel}{request.target ? ` — ${request.target.email}` : request.targetRole ? ` — ${request.targetRole}` : ''}</span>
        <span className="text-xs text-slate-600" data-status={request.status}>{statusLabels[request.status]}</span>
      </p>
      <p className="text-slate-700">{request.summary}</p>
      <p className="text-xs text-slate-500">
        Asked by {request.requestedBy.email} <When iso={request.requestedAt} />
        {request.status === 'pending' && <> · lapses <When iso={request.expiresAt} /></>}
        {request.decidedBy && request.decidedAt && <> · {statusLabels[request.status].toLowerCase()} by {request.decidedBy} <When iso={request.decidedAt} /></>}
      </p>
    </>
  );
}
