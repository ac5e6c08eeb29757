/**
 * The form every reveal of sealed patient data in a privacy review is asked through: what opening
 * it means, the reason from the fixed list, and a submit. It is a POST to a server action (never a
 * link or a GET form, which another site could make the browser follow); the values come back
 * only in the answer to that request, which the caller shows in place of this form.
 */
export function RevealReasonForm({
  action,
  pending,
  message,
  reasons,
  hidden,
  submitLabel,
  testId,
  children,
}: {
  action: (form: FormData) => void;
  pending: boolean;
  message: string | null;
  reasons: Record<string, string>;
  hidden: Record<string, string | number>;
  submitLabel: string;
  testId?: string;
  /** What is sealed, and that opening it is recorded, monitored and disclosed. */
  children: React.ReactNode;
}) {
  return (
    <form action={action} className="space-y-3 rounded-lg border border-amber-200 bg-amber-50 p-4 text-sm" data-testid={testId}>
      <p className="text-amber-900">{children}</p>
      {Object.entries(hidden).map(([name, value]) => <input key={name} type="hidden" name={name} value={value} />)}
      <label className="block font-medium text-slate-800">
        Why are you opening them?
        <select name="reason" required defaultValue="" className="mt-1 block w-full max-w-md rounded-md border border-slate-300 bg-white px-3 py-2 font-normal">
          <option value="" disabled>Choose a reason…</option>
          {Object.entries(reasons).map(([value, label]) => <option key={value} value={value}>{label}</option>)}
        </select>
      </label>
      {message && <p role="alert" className="text-red-700">{message}</p>}
      <button type="submit" disabled={pending} className="rounded-md bg-calm px-3 py-1.5 text-white disabled:opacity-60">{submitLabel}</button>
    </form>
  );
}
