/**
 * Also a prefetch boundary: a link to an audit page prefetches only this, never the page, whose
 * rendering is a recorded use of the audit trail.
 */
export default function Loading() {
  return <p className="text-sm text-slate-500" role="status">Loading the audit trail…</p>;
}
