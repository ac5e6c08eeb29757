import type { PatientBanner } from '@/lib/domain/chart/banner';

/**
 * The strip at the top of every chart: who the patient is, and their allergies where the
 * viewer's role may read them. Severe allergies turn the whole strip red: that is the one fact
 * nobody may scroll past.
 */
export function PatientBannerStrip({ banner }: { banner: PatientBanner }) {
  const { identity, allergies } = banner;
  const severe = allergies?.status === 'ok' && allergies.severe;
  return (
    <header
      data-testid="patient-banner"
      data-severe-allergy={severe ? 'true' : 'false'}
      className={`rounded-lg border-2 px-4 py-3 ${severe ? 'border-red-800 bg-red-50' : 'border-slate-200 bg-white'}`}
    >
      {identity ? (
        <div className="flex flex-wrap items-baseline gap-x-6 gap-y-1">
          <h1 className="text-xl font-semibold">{identity.name}</h1>
          <span className="text-sm" data-testid="banner-age-sex">{identity.age} · <span className="capitalize">{identity.sex}</span></span>
          <span className="text-sm"><span className="text-slate-600">DOB</span> {identity.dateOfBirth}</span>
          <span className="text-sm"><span className="text-slate-600">MRN</span> <span className="font-mono">{identity.mrn}</span></span>
        </div>
      ) : (
        <h1 className="text-xl font-semibold">Patient chart</h1>
      )}
      {allergies && (
        <div className="mt-2 text-sm" data-testid="banner-allergies">
          {allergies.status !== 'ok' ? (
            <p className="text-amber-900">Allergies unavailable.</p>
          ) : allergies.items.length === 0 ? (
            <p className="font-medium text-emerald-800">No known allergies</p>
          ) : (
            <p>
              <span className={`mr-2 font-semibold uppercase tracking-wide ${severe ? 'text-red-800' : 'text-slate-700'}`}>
                {severe ? 'Severe allergy' : 'Allergies'}
              </span>
              {allergies.items.map((a, i) => (
                <span key={`${a.substance}-${i}`} data-severity={a.severity}
                  className={`mr-2 inline-block rounded px-2 py-0.5 ${a.severity === 'severe' ? 'bg-red-800 font-semibold text-white' : 'bg-slate-100 text-slate-800'}`}>
                  {a.substance} ({a.reaction}, {a.severity})
                </span>
              ))}
            </p>
          )}
        </div>
      )}
    </header>
  );
}
