const styles: Record<string, string> = {
  CRITICAL: 'bg-red-700 text-white',
  HIGH: 'bg-orange-100 text-orange-900 border border-orange-300',
  MEDIUM: 'bg-amber-50 text-amber-900 border border-amber-300',
  LOW: 'bg-slate-100 text-slate-700 border border-slate-300',
};

export function SeverityBadge({ severity }: { severity: string }) {
  return <span className={`rounded px-1.5 py-0.5 text-xs font-semibold ${styles[severity] ?? styles.LOW}`}>{severity}</span>;
}

export const caseStatusLabels: Record<string, string> = {
  open: 'Open',
  resolved_appropriate: 'Resolved: appropriate',
  confirmed: 'Confirmed and referred',
};

/** Minute precision, always UTC, so every reviewer reads the same time. */
export function utcTime(iso: string | null): string {
  return iso ? `${iso.slice(0, 16).replace('T', ' ')} UTC` : '—';
}
