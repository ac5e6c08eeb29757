import Link from 'next/link';
import { ActionForm } from '@/components/chart/action-form';
import { requireViewer } from '@/lib/features/auth/current';
import { revealReasons } from '@/lib/domain/audit/reveal-reasons';
import { getGrantReview, reviewMessages, verdictLabels, type ReviewComment, type ReviewVerdict } from '@/lib/features/break-glass';
import { endedReasonLabels, formatTime, stateLabels } from '../format';
import { reviewGrantAction } from './actions';
import { RevealGrantForm } from './reveal-form';

const reviewCommentNotices: Record<Exclude<ReviewComment['status'], 'shown'>, string> = {
  erased: 'Comment erased with the patient’s record.',
  unavailable: 'Comment unavailable (it cannot be opened).',
};

const sectionTitles: Record<string, string> = {
  demographics: 'Demographics',
  insurance: 'Insurance',
  allergies: 'Allergies',
  medications: 'Medications',
  problems: 'Problems',
  vitals: 'Vitals',
  progress_notes: 'Progress notes',
  nursing_notes: 'Nursing notes',
  encounters: 'Encounters',
};

/**
 * One grant for its reviewer. The justification and the patient's MRN are PHI: this GET page never
 * opens them, so no link or cross-site navigation can; the reviewer asks for them with a reason in
 * a POST (./reveal-form.tsx), recorded as an access to the patient's record.
 */
export default async function GrantReviewPage({ params }: { params: Promise<{ grantId: string }> }) {
  const viewer = await requireViewer();
  const { grantId } = await params;
  const review = await getGrantReview(viewer, grantId);
  if (!review.ok) {
    return (
      <div className="space-y-2">
        <p role="alert" className="text-sm text-red-700">{review.message}</p>
        <Link href="/admin/break-glass" className="text-sm text-calm hover:underline">← Review queue</Link>
      </div>
    );
  }
  const g = review.value;
  const ended = g.endedAt
    ? `${formatTime(g.endedAt)} (${endedReasonLabels[g.endedReason ?? ''] ?? g.endedReason})`
    : g.sessionEnded
      ? `${formatTime(g.sessionEnded.at)} (${endedReasonLabels[g.sessionEnded.reason ?? ''] ?? 'session ended'})`
      : null;

  return (
    <div className="space-y-6" data-testid="grant-review" data-grant-id={g.grantId}>
      <div className="flex items-baseline justify-between">
        <h1 className="text-xl font-semibold">Emergency access by {g.user.displayName}</h1>
        <Link href="/admin/break-glass" className="text-sm text-calm hover:underline">← Review queue</Link>
      </div>

      <dl className="grid grid-cols-[auto_1fr] gap-x-6 gap-y-1 rounded-lg border border-slate-200 bg-white p-4 text-sm">
        <dt className="text-slate-500">Clinician</dt><dd>{g.user.displayName} ({g.user.email})</dd>
        <dt className="text-slate-500">Patient</dt><dd><span className="font-mono text-xs">{g.patientId}</span></dd>
        <dt className="text-slate-500">Reason</dt><dd data-testid="grant-reason">{g.reasonLabel}</dd>
        <dt className="text-slate-500">Granted</dt><dd>{formatTime(g.grantedAt)}</dd>
        {/* A tampered grant's stored window is what someone wrote into it: not shown as its window. */}
        <dt className="text-slate-500">Window ends</dt><dd>{g.tampered ? stateLabels.tampered : formatTime(g.expiresAt)}</dd>
        <dt className="text-slate-500">Ended early</dt><dd>{g.tampered ? stateLabels.tampered : (ended ?? 'No')}</dd>
        <dt className="text-slate-500">State</dt><dd>{stateLabels[g.state]}</dd>
        <dt className="text-slate-500">Review</dt>
        <dd data-testid="grant-verdict">
          {verdictLabels[g.reviewStatus as ReviewVerdict | 'pending' | 'tampered'] ?? g.reviewStatus}
          {g.reviewer && <> · by {g.reviewer.displayName}, {formatTime(g.reviewedAt)}</>}
        </dd>
      </dl>

      <section>
        <h2 className="mb-2 text-base font-semibold">Justification and MRN</h2>
        <RevealGrantForm grantId={g.grantId} reasons={revealReasons} />
      </section>

      <section>
        <h2 className="mb-2 text-base font-semibold">Sections viewed</h2>
        <ul className="flex flex-wrap gap-2" data-testid="sections-viewed">
          {g.sectionsViewed.map((s) => (
            <li key={s} data-section={s} className="rounded-full bg-slate-100 px-3 py-1 text-xs">{sectionTitles[s] ?? s}</li>
          ))}
          {g.sectionsViewed.length === 0 && <li className="text-sm text-slate-500">The chart was not opened.</li>}
        </ul>
      </section>

      <section>
        <h2 className="mb-2 text-base font-semibold">Everything recorded under this grant</h2>
        <table className="w-full rounded-lg border border-slate-200 bg-white text-sm" data-testid="grant-activity">
          <thead className="text-left text-slate-500">
            <tr>{['#', 'When', 'Action', 'Record', 'Outcome', 'Sections'].map((h) => <th key={h} className="px-3 py-2 font-medium">{h}</th>)}</tr>
          </thead>
          <tbody>
            {g.activity.map((a) => (
              <tr key={a.seq} data-action={a.action} className="border-t border-slate-100 align-top">
                <td className="px-3 py-2 font-mono text-xs">{a.seq}</td>
                <td className="px-3 py-2">{formatTime(a.occurredAt)}</td>
                <td className="px-3 py-2 font-mono text-xs">{a.action}</td>
                <td className="px-3 py-2 font-mono text-xs">{a.resourceType}{a.resourceId ? ` ${a.resourceId.slice(0, 8)}…` : ''}</td>
                <td className="px-3 py-2">{a.outcome}</td>
                <td className="px-3 py-2 text-xs">{a.sections.map((s) => sectionTitles[s] ?? s).join(', ')}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>

      <section className="rounded-lg border border-slate-200 bg-white p-4">
        <h2 className="mb-2 text-base font-semibold">Verdict</h2>
        {g.reviewComment?.status === 'shown' && <p className="mb-3 whitespace-pre-wrap text-sm" data-testid="grant-review-comment">{g.reviewComment.text}</p>}
        {g.reviewComment && g.reviewComment.status !== 'shown' && (
          <p className="mb-3 text-sm text-slate-500" data-testid="grant-review-comment-missing" data-status={g.reviewComment.status}>
            {reviewCommentNotices[g.reviewComment.status]}
          </p>
        )}
        {g.canReview ? (
          <ActionForm action={reviewGrantAction} hidden={{ grantId: g.grantId }} submitLabel="Record verdict" testId="review-form" className="space-y-3">
            <fieldset className="space-y-1 text-sm">
              <legend className="sr-only">Verdict</legend>
              <label className="flex items-center gap-2"><input type="radio" name="verdict" value="appropriate" required /> Appropriate</label>
              <label className="flex items-center gap-2"><input type="radio" name="verdict" value="referred" /> Refer for investigation</label>
            </fieldset>
            <label className="block text-xs font-medium text-slate-600">
              Comment (required; no patient details)
              <textarea name="comment" rows={3} maxLength={2000} className="mt-1 block w-full rounded border border-slate-300 px-2 py-1 text-sm" />
            </label>
          </ActionForm>
        ) : g.tampered ? (
          <p role="alert" className="text-sm text-red-700" data-testid="grant-tampered">{reviewMessages.tampered}</p>
        ) : (
          g.reviewStatus === 'pending' && <p className="text-sm text-slate-600">You cannot review your own emergency access.</p>
        )}
      </section>
    </div>
  );
}
