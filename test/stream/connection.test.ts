import { describe, expect, it } from "vitest";
import type { FeedEvent } from "../../src/events/event";
import {
  acknowledge,
  MAX_HELD,
  newBuffers,
  newConnection,
  offer,
  type ServerMessage,
  WINDOW,
} from "../../src/stream/connection";

// One connection's flow control, without a socket: what goes out, what is held and coalesced,
// and when the client is too far behind.

const TENANT = "ten_01JD8X5Q3M2V7T6R4N9K0B1C2D";

const event = (seq: number, subject = `ent_${seq}`, type = "entry.replaced"): FeedEvent => ({
  id: `evt_01JD8X5Q3M2V7T6R4N9K0B1C2D_${String(seq).padStart(12, "0")}`,
  tenant_id: TENANT,
  seq,
  type: type as FeedEvent["type"],
  subject: { type: "entry", id: subject },
  data: { id: subject, version: seq },
  occurred_at: new Date(0).toISOString(),
  request_id: null,
  actor: { type: "system", id: "test" } as FeedEvent["actor"],
});

const seqsOf = (messages: ServerMessage[]) =>
  messages.map((m) => (m.kind === "event" ? m.event.seq : m.kind)).filter((x) => typeof x === "number");

const run = (from: number, to: number, subject?: (seq: number) => string) =>
  Array.from({ length: to - from + 1 }, (_, i) => event(from + i, subject?.(from + i)));

describe("a stream connection's flow control", () => {
  it("sends every event in seq order while the client keeps up, each once", () => {
    const state = newConnection("c", TENANT, "key", null, 0, 0);
    const buffers = newBuffers();
    const first = offer(state, buffers, run(1, 10));
    expect(seqsOf(first.send)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // Seen already (the queue delivers at least once): nothing again.
    expect(offer(state, buffers, run(5, 10)).send).toEqual([]);
    expect(acknowledge(state, buffers, 10)).toEqual([]);
    expect(state).toMatchObject({ ackedSeq: 10, unacked: 0, sentSeq: 10, seenSeq: 10 });
  });

  it("filters by type, patterns as webhooks take them", () => {
    const state = newConnection("c", TENANT, "key", ["flag.*", "entry.deleted"], 0, 0);
    const events = [event(1), event(2, "a", "entry.deleted"), event(3, "f", "flag.rolled_back"), event(4)];
    expect(seqsOf(offer(state, newBuffers(), events).send)).toEqual([2, 3]);
    expect(state.seenSeq).toBe(4);
  });

  it("past the window holds one update per subject, then sends the latest of each with how many it replaced", () => {
    const state = newConnection("c", TENANT, "key", null, 0, 0);
    const buffers = newBuffers();
    // The client acknowledges nothing: the first WINDOW go out, the rest are held.
    const sent = offer(state, buffers, run(1, WINDOW));
    expect(sent.send).toHaveLength(WINDOW);
    // Then 300 updates of three subjects.
    const updates = run(WINDOW + 1, WINDOW + 300, (seq) => ["a", "b", "c"][seq % 3] as string);
    const held = offer(state, buffers, updates);
    expect(held.send).toEqual([]);
    expect(held.coalesced).toBe(297);
    expect(state.held).toBe(3);
    // Caught up: the held ones go out, in the order of their latest updates, the final state of each.
    const flushed = acknowledge(state, buffers, WINDOW);
    expect(flushed.map((m) => m.kind === "event" && [m.event.subject.id, m.event.seq, m.coalesced])).toEqual([
      ["c", WINDOW + 298, 99],
      ["a", WINDOW + 299, 99],
      ["b", WINDOW + 300, 99],
    ]);
    expect(state).toMatchObject({ held: 0, sentSeq: WINDOW + 300, unacked: 3 });
  });

  it("holds until the client is back within half the window", () => {
    const state = newConnection("c", TENANT, "key", null, 0, 0);
    const buffers = newBuffers();
    offer(state, buffers, run(1, WINDOW));
    offer(state, buffers, [event(WINDOW + 1, "x"), event(WINDOW + 2, "x")]);
    expect(acknowledge(state, buffers, WINDOW / 2 - 1)).toEqual([]);
    expect(state.unacked).toBe(WINDOW / 2 + 1);
    const out = acknowledge(state, buffers, WINDOW / 2);
    expect(out).toEqual([{ kind: "event", event: event(WINDOW + 2, "x"), coalesced: 1 }]);
    // An ack of something never sent counts only as far as what was.
    acknowledge(state, buffers, 10_000);
    expect(state.ackedSeq).toBe(WINDOW + 2);
  });

  it("asks a client too far behind to resync: more subjects changed than it holds", () => {
    const state = newConnection("c", TENANT, "key", null, 0, 0);
    const buffers = newBuffers();
    offer(state, buffers, run(1, WINDOW));
    const flood = offer(state, buffers, run(WINDOW + 1, WINDOW + MAX_HELD + 1));
    expect(flood.resync).toMatch(/subjects changed/);
  });

  it("after hibernation (the sent seqs lost) counts the window conservatively until an ack of the newest", () => {
    const state = newConnection("c", TENANT, "key", null, 0, 0);
    offer(state, newBuffers(), run(1, 30));
    const woken = newBuffers();
    acknowledge(state, woken, 10);
    expect(state.unacked).toBe(30);
    acknowledge(state, woken, 30);
    expect(state.unacked).toBe(0);
  });
});
