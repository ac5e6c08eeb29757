'use client';

/**
 * The browser half of a visit's call, shared by the clinician's and the patient's screens: one
 * RTCPeerConnection (media is DTLS-SRTP, end to end between the two browsers), trickled ICE
 * candidates held until the remote description is set, and set-up messages posted to the
 * portal's own signalling routes.
 */
export type SignalMessage =
  | { type: 'hello' | 'bye' }
  | { type: 'offer' | 'answer'; sdp: string }
  | { type: 'candidate'; candidate: RTCIceCandidateInit };

export interface Peer {
  pc: RTCPeerConnection;
  setRemote(description: RTCSessionDescriptionInit): Promise<void>;
  addCandidate(candidate: RTCIceCandidateInit): Promise<void>;
  close(): void;
}

export async function postSignal(url: string, message: SignalMessage): Promise<void> {
  await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(message) });
}

export function localMedia(): Promise<MediaStream> {
  return navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: true });
}

export function createPeer(options: {
  iceServers: RTCIceServer[];
  local: MediaStream;
  send: (message: SignalMessage) => Promise<void>;
  onRemote: (stream: MediaStream) => void;
  onState: (state: RTCPeerConnectionState) => void;
}): Peer {
  const pc = new RTCPeerConnection({ iceServers: options.iceServers });
  for (const track of options.local.getTracks()) pc.addTrack(track, options.local);
  const waiting: RTCIceCandidateInit[] = [];
  pc.onicecandidate = (event) => {
    if (event.candidate) void options.send({ type: 'candidate', candidate: event.candidate.toJSON() });
  };
  pc.ontrack = (event) => options.onRemote(event.streams[0] ?? new MediaStream([event.track]));
  pc.onconnectionstatechange = () => options.onState(pc.connectionState);
  return {
    pc,
    async setRemote(description) {
      await pc.setRemoteDescription(description);
      for (const candidate of waiting.splice(0)) await pc.addIceCandidate(candidate).catch(() => undefined);
    },
    async addCandidate(candidate) {
      if (!pc.remoteDescription) waiting.push(candidate);
      else await pc.addIceCandidate(candidate).catch(() => undefined);
    },
    close: () => pc.close(),
  };
}

/** Server-sent events as parsed JSON; the browser reconnects on its own with Last-Event-ID. */
export function listen(url: string, onMessage: (message: { type: string } & Record<string, unknown>) => void, onOpen?: () => void): EventSource {
  const source = new EventSource(url);
  source.onmessage = (event) => {
    try {
      onMessage(JSON.parse(event.data as string));
    } catch {
      // A message that is not JSON is not ours; ignore it.
    }
  };
  if (onOpen) source.onopen = onOpen;
  return source;
}

export const connectionLabels: Record<string, string> = {
  new: 'Waiting for the other side',
  connecting: 'Connecting…',
  connected: 'Connected',
  disconnected: 'Connection interrupted',
  failed: 'Connection failed',
  closed: 'Call ended',
};
