import 'server-only';
import { z } from 'zod';

/**
 * Call set-up between the two browsers of a visit: SDP offers and answers and ICE candidates,
 * relayed by the portal and never stored. The channel is server-sent events down (one
 * long-lived GET per participant) and plain POSTs up, both ordinary route handlers on the
 * portal's own origin behind the same session (or visit secret) checks as everything else. A
 * WebSocket would need a custom server or upgrade handling outside Next's route handlers; set-up
 * is a handful of small messages, which SSE carries well, and it goes through every proxy that
 * carries the portal already.
 *
 * Mailboxes live in this process's memory: the portal runs as one Node process
 * (scripts/serve.mjs). Behind several instances, sticky sessions per visit are needed — the
 * same rule as any in-memory state; see docs/operations.md.
 */
export type Side = 'clinician' | 'patient';

export const MAX_SIGNAL_BYTES = 64 * 1024;

/** What a browser may send the other: anything else is refused unread by the other side. */
export const signalMessage = z.discriminatedUnion('type', [
  z.object({ type: z.literal('hello') }),
  z.object({ type: z.literal('bye') }),
  z.object({ type: z.enum(['offer', 'answer']), sdp: z.string().min(1).max(MAX_SIGNAL_BYTES) }),
  z.object({
    type: z.literal('candidate'),
    candidate: z.object({
      candidate: z.string().max(1_000),
      sdpMid: z.string().max(64).nullable().optional(),
      sdpMLineIndex: z.number().int().min(0).max(64).nullable().optional(),
      usernameFragment: z.string().max(256).nullable().optional(),
    }),
  }),
]);
export type SignalMessage = z.infer<typeof signalMessage>;

/** Events the portal itself sends a participant, beside the other browser's messages. */
export type PortalEvent =
  | { type: 'patient-joined' }
  | { type: 'consent'; given: boolean }
  | { type: 'recording'; state: 'started' | 'finished' }
  | { type: 'ended' };

interface Message {
  id: number;
  body: SignalMessage | PortalEvent;
}

interface Mailbox {
  next: number;
  messages: Message[];
  listeners: Set<(message: Message) => void>;
}

/** Enough for a reconnect to catch up on one set-up; older messages are of no use. */
const MAILBOX_KEEP = 200;
const KEEPALIVE_MS = 15_000;

const globalForHub = globalThis as unknown as { vigilVisitMailboxes?: Map<string, Record<Side, Mailbox>> };
const hub = (globalForHub.vigilVisitMailboxes ??= new Map());

function mailbox(visitId: string, side: Side): Mailbox {
  let pair = hub.get(visitId);
  if (!pair) {
    const empty = (): Mailbox => ({ next: 1, messages: [], listeners: new Set() });
    pair = { clinician: empty(), patient: empty() };
    hub.set(visitId, pair);
  }
  return pair[side];
}

export function deliver(visitId: string, to: Side, body: SignalMessage | PortalEvent): void {
  const box = mailbox(visitId, to);
  const message = { id: box.next++, body };
  box.messages.push(message);
  if (box.messages.length > MAILBOX_KEEP) box.messages.shift();
  for (const listener of box.listeners) listener(message);
}

export const otherSide = (side: Side): Side => (side === 'clinician' ? 'patient' : 'clinician');

/** The visit is over: both sides are told, and its mailboxes are dropped once they have been. */
export function closeMailboxes(visitId: string): void {
  deliver(visitId, 'clinician', { type: 'ended' });
  deliver(visitId, 'patient', { type: 'ended' });
  setTimeout(() => hub.delete(visitId), 30_000).unref?.();
}

/**
 * One participant's event stream: what is waiting after `lastEventId` (the browser sends
 * Last-Event-ID when it reconnects), then each message as it comes, with a comment line every
 * 15 s so idle proxies keep the connection.
 */
export function eventStream(visitId: string, side: Side, lastEventId: number): ReadableStream<Uint8Array> {
  const box = mailbox(visitId, side);
  const encoder = new TextEncoder();
  let stop = () => {};
  return new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (message: Message) => {
        try {
          controller.enqueue(encoder.encode(`id: ${message.id}\ndata: ${JSON.stringify(message.body)}\n\n`));
        } catch {
          stop();
        }
      };
      controller.enqueue(encoder.encode('retry: 2000\n\n'));
      for (const message of box.messages) if (message.id > lastEventId) send(message);
      box.listeners.add(send);
      const keepAlive = setInterval(() => {
        try {
          controller.enqueue(encoder.encode(': keep-alive\n\n'));
        } catch {
          stop();
        }
      }, KEEPALIVE_MS);
      stop = () => {
        clearInterval(keepAlive);
        box.listeners.delete(send);
      };
    },
    cancel() {
      stop();
    },
  });
}

export function eventStreamResponse(stream: ReadableStream<Uint8Array>): Response {
  return new Response(stream, {
    headers: { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store, no-transform', 'X-Accel-Buffering': 'no' },
  });
}

/** Parses one POSTed message; null when it is too large or not a set-up message. */
export function parseSignal(text: string | null): SignalMessage | null {
  if (text === null) return null;
  try {
    const parsed = signalMessage.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/** The Last-Event-ID a reconnecting EventSource sends. */
export function lastEventIdOf(request: Request): number {
  const value = Number(request.headers.get('last-event-id') ?? 0);
  return Number.isSafeInteger(value) && value > 0 ? value : 0;
}
