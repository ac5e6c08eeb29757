'use client';

import Link from 'next/link';
import { useCallback, useEffect, useRef, useState } from 'react';
import { connectionLabels, createPeer, listen, localMedia, postSignal, type Peer } from './peer';
import { Recorder } from './recorder';

type LinkAction = (visitId: string) => Promise<{ ok: boolean; message: string; path?: string; expiresAt?: string }>;

/** The clinician's visit screen: both videos, the patient's link, consent, recording, end. */
export function VisitRoom(props: {
  visitId: string;
  patientId: string;
  iceServers: RTCIceServer[];
  patientJoined: boolean;
  consent: 'given' | 'refused' | null;
  timesliceMs: number;
  issueLink: LinkAction;
  revokeLinks: LinkAction;
  endVisit: (visitId: string) => Promise<{ ok: boolean; message: string }>;
}) {
  const localVideo = useRef<HTMLVideoElement>(null);
  const remoteVideo = useRef<HTMLVideoElement>(null);
  const peer = useRef<Peer | null>(null);
  const [local, setLocal] = useState<MediaStream | null>(null);
  const [remote, setRemote] = useState<MediaStream | null>(null);
  const [state, setState] = useState<string>('new');
  const [joined, setJoined] = useState(props.patientJoined);
  const [consent, setConsent] = useState(props.consent);
  const [link, setLink] = useState<{ url: string; expiresAt: string } | null>(null);
  const [message, setMessage] = useState<string | null>(null);
  const [ended, setEnded] = useState(false);
  const signalUrl = `/api/visits/signal?visit=${props.visitId}`;

  useEffect(() => {
    let stream: MediaStream | null = null;
    localMedia().then(
      (media) => {
        stream = media;
        setLocal(media);
        if (localVideo.current) localVideo.current.srcObject = media;
      },
      () => setMessage('The camera or microphone could not be opened. Check the browser’s permission for this site.'),
    );
    return () => stream?.getTracks().forEach((track) => track.stop());
  }, []);

  const call = useCallback(async (media: MediaStream) => {
    peer.current?.close();
    const next = createPeer({
      iceServers: props.iceServers,
      local: media,
      send: (m) => postSignal(signalUrl, m),
      onRemote: (stream) => {
        setRemote(stream);
        if (remoteVideo.current) remoteVideo.current.srcObject = stream;
      },
      onState: setState,
    });
    peer.current = next;
    const offer = await next.pc.createOffer();
    await next.pc.setLocalDescription(offer);
    await postSignal(signalUrl, { type: 'offer', sdp: offer.sdp ?? '' });
  }, [props.iceServers, signalUrl]);

  useEffect(() => {
    if (!local) return;
    const source = listen(signalUrl, (m) => {
      const current = peer.current;
      if (m.type === 'hello') void call(local);
      else if (m.type === 'answer' && current?.pc.signalingState === 'have-local-offer') void current.setRemote({ type: 'answer', sdp: String(m.sdp) });
      else if (m.type === 'candidate' && current) void current.addCandidate(m.candidate as RTCIceCandidateInit);
      else if (m.type === 'patient-joined') setJoined(true);
      else if (m.type === 'consent') setConsent(m.given ? 'given' : 'refused');
      else if (m.type === 'ended') {
        setEnded(true);
        current?.close();
      }
    });
    return () => source.close();
  }, [local, call, signalUrl]);

  const newLink = async () => {
    const answer = await props.issueLink(props.visitId);
    setMessage(answer.ok ? null : answer.message);
    if (answer.ok && answer.path) setLink({ url: `${window.location.origin}${answer.path}`, expiresAt: answer.expiresAt ?? '' });
  };
  const withdraw = async () => {
    const answer = await props.revokeLinks(props.visitId);
    setMessage(answer.message);
    if (answer.ok) setLink(null);
  };
  const end = async () => {
    const answer = await props.endVisit(props.visitId);
    setMessage(answer.message);
    if (answer.ok) {
      setEnded(true);
      peer.current?.close();
      local?.getTracks().forEach((track) => track.stop());
    }
  };

  return (
    <div className="space-y-4">
      <div className="grid gap-4 md:grid-cols-3">
        <figure className="md:col-span-2">
          <video ref={remoteVideo} autoPlay playsInline data-testid="remote-video" className="aspect-video w-full rounded-lg bg-slate-900" />
          <figcaption className="mt-1 text-sm text-slate-600">
            Patient · <span data-testid="connection-state">{ended ? 'Visit ended' : connectionLabels[state] ?? state}</span>
          </figcaption>
        </figure>
        <figure>
          <video ref={localVideo} autoPlay playsInline muted data-testid="local-video" className="aspect-video w-full rounded-lg bg-slate-900" />
          <figcaption className="mt-1 text-sm text-slate-600">You</figcaption>
        </figure>
      </div>

      {message && <p role="alert" className="rounded border border-amber-300 bg-amber-50 px-3 py-2 text-sm text-amber-900">{message}</p>}

      <div className="grid gap-4 md:grid-cols-3">
        <section className="rounded-lg border border-slate-200 bg-white p-4">
          <h2 className="text-sm font-semibold">Patient’s link</h2>
          {joined ? (
            <p className="mt-2 text-sm text-slate-600" data-testid="patient-joined">The patient has joined through their link.</p>
          ) : (
            <>
              <p className="mt-2 text-sm text-slate-600">Send the patient a one-time link. It works once, for 15 minutes, and carries no details about them.</p>
              {link && (
                <p className="mt-2 break-all rounded bg-slate-50 p-2 font-mono text-xs" data-testid="join-link">{link.url}</p>
              )}
              <div className="mt-3 flex gap-2">
                <button type="button" onClick={newLink} disabled={ended} className="rounded-md bg-calm px-3 py-1.5 text-sm font-medium text-white">{link ? 'New link' : 'Create link'}</button>
                {link && <button type="button" onClick={withdraw} className="rounded-md border border-slate-300 px-3 py-1.5 text-sm">Withdraw link</button>}
              </div>
            </>
          )}
        </section>

        <section className="rounded-lg border border-slate-200 bg-white p-4">
          <h2 className="text-sm font-semibold">Recording</h2>
          <p className="mt-2 text-sm text-slate-600" data-testid="consent-state">
            {consent === 'given' ? 'The patient agreed to this visit being recorded.' : consent === 'refused' ? 'The patient declined recording.' : 'The patient has not been asked yet: they answer on their join screen.'}
          </p>
          <Recorder visitId={props.visitId} patientId={props.patientId} remote={remote} local={local} allowed={consent === 'given' && !ended} timesliceMs={props.timesliceMs} />
        </section>

        <section className="rounded-lg border border-slate-200 bg-white p-4">
          <h2 className="text-sm font-semibold">Visit</h2>
          <p className="mt-2 text-sm text-slate-600">The call runs directly between your browser and the patient’s, encrypted end to end (DTLS-SRTP); the portal only introduces them.</p>
          <div className="mt-3 flex gap-2">
            <button type="button" onClick={end} disabled={ended} className="rounded-md bg-red-700 px-3 py-1.5 text-sm font-medium text-white disabled:opacity-50">End visit</button>
            <Link href={`/patients/${props.patientId}`} className="rounded-md border border-slate-300 px-3 py-1.5 text-sm">Back to chart</Link>
          </div>
        </section>
      </div>
    </div>
  );
}
