'use client';

import { useEffect, useRef, useState } from 'react';
import { connectionLabels, createPeer, listen, localMedia, postSignal, type Peer } from './peer';

type Stage = { step: 'joining' } | { step: 'refused'; message: string } | { step: 'consent' } | { step: 'call' } | { step: 'ended' };

const SIGNAL_URL = '/visit/api/signal';

/**
 * The patient's screen. The token is read from the link's fragment (which never leaves the
 * browser except in this one POST), and removed from the address bar at once; then the
 * recording question, then the call, which the clinician's browser offers.
 */
export function PatientJoin() {
  const [stage, setStage] = useState<Stage>({ step: 'joining' });
  const [clinician, setClinician] = useState('your clinician');
  const [state, setState] = useState('new');
  const [recording, setRecording] = useState(false);
  const [consent, setConsent] = useState<boolean | null>(null);
  const ice = useRef<RTCIceServer[]>([]);
  const localVideo = useRef<HTMLVideoElement>(null);
  const remoteVideo = useRef<HTMLVideoElement>(null);

  useEffect(() => {
    const token = window.location.hash.slice(1);
    window.history.replaceState(null, '', window.location.pathname);
    void (async () => {
      const response = await fetch('/visit/api/join', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ token }) });
      const answer = (await response.json()) as { error?: string; clinician?: string; iceServers?: RTCIceServer[] };
      if (!response.ok) return setStage({ step: 'refused', message: answer.error ?? 'This link cannot be used.' });
      setClinician(answer.clinician ?? 'your clinician');
      ice.current = answer.iceServers ?? [];
      setStage({ step: 'consent' });
    })();
  }, []);

  useEffect(() => {
    if (stage.step !== 'call') return;
    let peer: Peer | null = null;
    let media: MediaStream | null = null;
    let source: EventSource | null = null;
    void localMedia().then((stream) => {
      media = stream;
      if (localVideo.current) localVideo.current.srcObject = stream;
      source = listen(SIGNAL_URL, (m) => {
        if (m.type === 'offer') {
          peer?.close();
          const next = createPeer({
            iceServers: ice.current,
            local: stream,
            send: (message) => postSignal(SIGNAL_URL, message),
            onRemote: (remote) => {
              if (remoteVideo.current) remoteVideo.current.srcObject = remote;
            },
            onState: setState,
          });
          peer = next;
          void (async () => {
            await next.setRemote({ type: 'offer', sdp: String(m.sdp) });
            const answer = await next.pc.createAnswer();
            await next.pc.setLocalDescription(answer);
            await postSignal(SIGNAL_URL, { type: 'answer', sdp: answer.sdp ?? '' });
          })();
        } else if (m.type === 'candidate') void peer?.addCandidate(m.candidate as RTCIceCandidateInit);
        else if (m.type === 'recording') setRecording(m.state === 'started');
        else if (m.type === 'ended') {
          peer?.close();
          setStage({ step: 'ended' });
        }
      }, () => void postSignal(SIGNAL_URL, { type: 'hello' }));
    });
    return () => {
      source?.close();
      peer?.close();
      media?.getTracks().forEach((track) => track.stop());
    };
  }, [stage.step]);

  const answer = async (given: boolean) => {
    const response = await fetch('/visit/api/consent', { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ given }) });
    if (response.ok) {
      setConsent(given);
      setStage({ step: 'call' });
    }
  };

  return (
    <main className="mx-auto max-w-3xl space-y-4 p-6">
      <h1 className="text-xl font-semibold">Video visit</h1>
      {stage.step === 'joining' && <p className="text-sm text-slate-600">Checking your link…</p>}
      {stage.step === 'refused' && <p role="alert" data-testid="join-refused" className="rounded border border-red-200 bg-red-50 p-4 text-sm text-red-900">{stage.message}</p>}
      {stage.step === 'consent' && (
        <section className="rounded-lg border border-slate-200 bg-white p-6" data-testid="consent-question">
          <h2 className="font-semibold">May {clinician} record this visit?</h2>
          <p className="mt-2 text-sm text-slate-600">
            A recording is kept in your medical record, encrypted with a key that belongs to your record alone. Only
            clinicians treating you can watch it, and every viewing is logged. You can say no and still have your visit.
          </p>
          <div className="mt-4 flex gap-3">
            <button type="button" onClick={() => answer(true)} className="rounded-md bg-calm px-4 py-2 text-sm font-medium text-white">Yes, it may be recorded</button>
            <button type="button" onClick={() => answer(false)} className="rounded-md border border-slate-300 px-4 py-2 text-sm">No recording</button>
          </div>
        </section>
      )}
      {stage.step === 'call' && (
        <>
          <div className="grid gap-4 md:grid-cols-3">
            <figure className="md:col-span-2">
              <video ref={remoteVideo} autoPlay playsInline data-testid="remote-video" className="aspect-video w-full rounded-lg bg-slate-900" />
              <figcaption className="mt-1 text-sm text-slate-600">{clinician} · <span data-testid="connection-state">{connectionLabels[state] ?? state}</span></figcaption>
            </figure>
            <figure>
              <video ref={localVideo} autoPlay playsInline muted className="aspect-video w-full rounded-lg bg-slate-900" />
              <figcaption className="mt-1 text-sm text-slate-600">You</figcaption>
            </figure>
          </div>
          <p className="text-sm text-slate-600" data-testid="patient-recording-state">
            {recording ? '● This visit is being recorded, as you agreed.' : consent ? 'You agreed to recording; it has not started.' : 'This visit will not be recorded.'}
          </p>
        </>
      )}
      {stage.step === 'ended' && <p className="text-sm text-slate-600" data-testid="visit-ended">The visit has ended. You can close this window.</p>}
    </main>
  );
}
