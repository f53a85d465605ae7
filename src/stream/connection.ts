import type { FeedEvent } from "../events/event";
import { subscribed } from "../events/patterns";

// One stream connection's flow control, kept apart from the socket so it can be tested alone.
// The client acknowledges what it has processed ({"kind":"ack","last_event_id":…}). While more
// than WINDOW events it was sent are unacknowledged, new events are not sent but held, one per
// subject: a later update of a subject replaces the one held (the final state always goes out).
// Once the client has caught up to within half the window, the held events go out in seq order,
// each saying how many updates it replaced. A client holding back more than MAX_HELD subjects is
// too far behind: it gets `resync` and the connection closes with CLOSE_RESYNC.

/** Unacknowledged events a connection may have before updates are held and coalesced. */
export const WINDOW = 100;
/** Distinct subjects held for one connection at most; one more means resync. */
export const MAX_HELD = 500;
/** Events a connection resumes from its `last_event_id` at most; further behind means resync. */
export const RESUME_LIMIT = 1000;

/** Close codes (4000–4999 are the application's). */
export const CLOSE_RESYNC = 4409;
export const CLOSE_KEY_REVOKED = 4401;
export const CLOSE_TENANT_GONE = 4410;
export const CLOSE_BAD_MESSAGE = 4400;

/** What survives the object's hibernation with the socket (its attachment; at most 2 KiB). */
export type ConnectionState = {
  id: string;
  tenantId: string;
  keyId: string;
  types: string[] | null;
  /** The newest seq looked at (sent, held or filtered out). */
  seenSeq: number;
  /** The newest seq sent. */
  sentSeq: number;
  /** The newest seq the client acknowledged. */
  ackedSeq: number;
  /** Events sent the client has not acknowledged. */
  unacked: number;
  /** Subjects held: a count, since the held events themselves live in memory only. */
  held: number;
  connectedAt: number;
};

export type Held = { event: FeedEvent; replaced: number };

/**
 * What a connection keeps in memory only: the events held, and the seqs sent since the client's
 * last acknowledgement. Lost if the object hibernates: held events lost mean resync; lost sent
 * seqs only make the window count conservatively until the client acknowledges the newest.
 */
export type Buffers = { held: Map<string, Held>; sent: number[] };

export const newBuffers = (): Buffers => ({ held: new Map(), sent: [] });

export type ServerMessage =
  | { kind: "ready"; connection_id: string; last_event_id: string | null; window: number }
  | { kind: "event"; event: FeedEvent; coalesced?: number }
  | { kind: "resync"; reason: string; last_event_id: string | null };

export type Outcome = { send: ServerMessage[]; resync: string | null; coalesced: number };

const subjectOf = (event: FeedEvent) => `${event.subject.type}:${event.subject.id}`;

export function newConnection(
  id: string,
  tenantId: string,
  keyId: string,
  types: string[] | null,
  fromSeq: number,
  now: number,
): ConnectionState {
  return {
    id,
    tenantId,
    keyId,
    types,
    seenSeq: fromSeq,
    sentSeq: fromSeq,
    ackedSeq: fromSeq,
    unacked: 0,
    held: 0,
    connectedAt: now,
  };
}

/**
 * Takes the events after `state.seenSeq` (in seq order, without gaps: the caller reads the feed
 * for any it lacks) and says what to send.
 */
export function offer(state: ConnectionState, buffers: Buffers, events: readonly FeedEvent[]): Outcome {
  const { held, sent } = buffers;
  const send: ServerMessage[] = [];
  let coalesced = 0;
  for (const event of events) {
    if (event.seq <= state.seenSeq) continue;
    state.seenSeq = event.seq;
    if (state.types !== null && !subscribed(state.types, event.type)) continue;
    if (held.size === 0 && state.unacked < WINDOW) {
      send.push({ kind: "event", event });
      state.sentSeq = event.seq;
      sent.push(event.seq);
      state.unacked++;
      continue;
    }
    const key = subjectOf(event);
    const before = held.get(key);
    // Re-inserted, so the hold's order is that of each subject's latest update.
    held.delete(key);
    held.set(key, { event, replaced: before ? before.replaced + 1 : 0 });
    if (before) coalesced++;
    if (held.size > MAX_HELD) {
      state.held = held.size;
      return { send, resync: `more than ${MAX_HELD} subjects changed while the client was behind`, coalesced };
    }
  }
  state.held = held.size;
  return { send, resync: null, coalesced };
}

/** The client processed everything up to `seq`: once it is within half the window, what is held goes out. */
export function acknowledge(state: ConnectionState, buffers: Buffers, seq: number): ServerMessage[] {
  const { held, sent } = buffers;
  if (seq <= state.ackedSeq) return [];
  const acked = Math.min(seq, state.sentSeq);
  state.ackedSeq = acked;
  while (sent.length > 0 && (sent[0] as number) <= acked) sent.shift();
  // Without the sent seqs (lost to hibernation) only an ack of the newest sent clears the count.
  state.unacked = acked >= state.sentSeq ? 0 : sent.length > 0 ? sent.length : state.unacked;
  if (held.size === 0 || state.unacked > WINDOW / 2) return [];
  const out = [...held.values()].sort((a, b) => a.event.seq - b.event.seq);
  held.clear();
  state.held = 0;
  for (const { event } of out) {
    state.sentSeq = Math.max(state.sentSeq, event.seq);
    sent.push(event.seq);
  }
  state.unacked += out.length;
  return out.map(({ event, replaced }) => ({ kind: "event", event, ...(replaced > 0 ? { coalesced: replaced } : {}) }));
}
