export function ChartSectionCard({ name, title, children }: { name: string; title: string; children: React.ReactNode }) {
  return (
    <section data-section={name} id={`section-${name}`} aria-labelledby={`section-${name}-title`} className="scroll-mt-4 rounded-lg border border-slate-200 bg-white p-4">
      <h2 id={`section-${name}-title`} className="mb-3 text-base font-semibold text-calm">{title}</h2>
      {children}
    </section>
  );
}

export function SectionNotice({ status }: { status: 'unavailable' | 'erased' }) {
  return (
    <p className="rounded bg-amber-50 px-3 py-2 text-sm text-amber-900" data-status={status}>
      {status === 'erased'
        ? 'This information has been erased at the patient’s request.'
        : 'This section is unavailable right now. The problem has been recorded; contact the service desk if it persists.'}
    </p>
  );
}

export function Table({ head, rows }: { head: string[]; rows: React.ReactNode[][] }) {
  if (rows.length === 0) return <p className="text-sm text-slate-500">None recorded.</p>;
  return (
    <table className="w-full text-sm">
      <thead className="text-left text-slate-500">
        <tr>{head.map((h) => <th key={h} className="py-1 pr-3 font-medium">{h}</th>)}</tr>
      </thead>
      <tbody>
        {rows.map((cells, i) => (
          <tr key={i} className="border-t border-slate-100 align-top">
            {cells.map((cell, j) => <td key={j} className="py-1 pr-3">{cell}</td>)}
          </tr>
        ))}
      </tbody>
    </table>
  );
}
