const reasonLabels: Record<string, string> = {
  emergency_treatment: 'Emergency treatment',
  unable_to_consent: 'Patient unable to consent',
  covering_clinician: 'Covering for the treating clinician',
  other: 'Other',
};

export function BreakGlassBanner({ expiresAt, reasonCode, now }: { expiresAt: string; reasonCode: string; now: number }) {
  const minutesLeft = Math.max(0, Math.ceil((new Date(expiresAt).getTime() - now) / 60_000));
  return (
    <div role="alert" data-testid="break-glass-banner" className="mb-4 rounded-md bg-red-700 px-4 py-3 text-white">
      <strong>Emergency access active</strong> · {reasonLabels[reasonCode] ?? reasonCode} · {minutesLeft} minute
      {minutesLeft === 1 ? '' : 's'} left. Every view and change is recorded and will be reviewed by a privacy officer.
    </div>
  );
}
