/** Links to the sections this chart shows, in page order, so a keyboard reaches one in a press. */
export function JumpLinks({ sections }: { sections: Array<{ name: string; title: string }> }) {
  if (sections.length < 2) return null;
  return (
    <nav aria-label="Chart sections" data-testid="jump-links" className="flex flex-wrap gap-x-4 gap-y-1 text-sm">
      {sections.map((s) => (
        <a key={s.name} href={`#section-${s.name}`} className="text-calm underline-offset-2 hover:underline">{s.title}</a>
      ))}
    </nav>
  );
}
