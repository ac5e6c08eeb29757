'use client';

import { useEffect, useRef, useState } from 'react';

export type DraftSaver = (input: { patientId: string; form: string; text: string }) => Promise<{ ok: boolean; message: string }>;

/** A pause in typing this long saves the draft; the server keeps it, the browser keeps nothing. */
const SAVE_AFTER_MS = 1_500;

/**
 * A note's text box that keeps what is typed as a server-side draft, so neither the idle
 * timeout nor a closed tab loses it. The text offered back (the user's own draft) starts in the
 * box. The form's reset after a successful add clears it: the server discarded the draft with
 * that write.
 */
export function DraftTextarea({ patientId, form, name, label, offered, save }: {
  patientId: string;
  form: string;
  name: string;
  label: string;
  offered: { text: string; savedAt: string } | null;
  save: DraftSaver;
}) {
  const ref = useRef<HTMLTextAreaElement>(null);
  const timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  const [status, setStatus] = useState<string | null>(offered ? `Your draft from ${offered.savedAt.slice(11, 16)} UTC, kept through your sign-out.` : null);

  useEffect(() => {
    const box = ref.current;
    const owner = box?.form;
    if (!box || !owner) return;
    const onReset = () => {
      if (timer.current) clearTimeout(timer.current);
      // Reset restores the offered text; the note is in the chart now.
      queueMicrotask(() => {
        box.value = '';
        setStatus(null);
      });
    };
    owner.addEventListener('reset', onReset);
    return () => {
      owner.removeEventListener('reset', onReset);
      if (timer.current) clearTimeout(timer.current);
    };
  }, []);

  const onInput = () => {
    if (timer.current) clearTimeout(timer.current);
    timer.current = setTimeout(async () => {
      const text = ref.current?.value ?? '';
      try {
        const result = await save({ patientId, form, text });
        setStatus(result.message);
      } catch {
        setStatus('The draft could not be saved just now.');
      }
    }, SAVE_AFTER_MS);
  };

  return (
    <label className="block text-xs font-medium text-slate-600">{label}
      <textarea ref={ref} name={name} required maxLength={10_000} rows={3} defaultValue={offered?.text} onInput={onInput}
        data-testid={`draft-${form}`} className="mt-1 block w-full rounded border border-slate-300 px-2 py-1 text-sm text-slate-900" />
      {status && <span role="status" data-testid={`draft-status-${form}`} className="mt-1 block font-normal text-slate-600">{status}</span>}
    </label>
  );
}
