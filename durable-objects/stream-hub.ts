import { DurableObject } from "cloudflare:workers";
import { controlDb } from "../src/db/client";
import { eventId, type FeedEvent, seqOfEventId } from "../src/events/event";
import {
  acknowledge,
  type Buffers,
  CLOSE_BAD_MESSAGE,
  CLOSE_RESYNC,
  type ConnectionState,
  newBuffers,
  newConnection,
  offer,
  RESUME_LIMIT,
  type ServerMessage,
  WINDOW,
} from "../src/stream/connection";
import { feedAfter, newestSeq } from "../src/stream/feed";
import { type ConnectRequest, type HubStats, ZERO_STATS } from "../src/stream/protocol";
import { reportCounters } from "../src/stream/service";

/** A hub reports its counters this long after a change (a burst of changes makes one report). */
const REPORT_DELAY_MS = 2_000;

/**
 * One per tenant (`idFromName(tenantId)`): the tenant's realtime stream connections, accepted
 * with the WebSocket Hibernation API so an idle stream costs nothing while its sockets stay open.
 * The events consumer hands it each batch of the tenant's events (`publish`); it keeps each
 * connection gapless and in seq order, reading from the feed what a batch lacks, and applies the
 * connection's flow control (src/stream/connection.ts). Its storage holds counters only.
 */
export class StreamHub extends DurableObject<Env> {
  /** Per connection id: the held events and sent seqs, in memory only (lost on hibernation). */
  private readonly buffers = new Map<string, Buffers>();

  private state(ws: WebSocket): ConnectionState | null {
    return (ws.deserializeAttachment() as ConnectionState | null) ?? null;
  }

  private buffersOf(state: ConnectionState): Buffers | null {
    const found = this.buffers.get(state.id);
    if (found) return found;
    // Woken from hibernation: what was held is gone, so a connection that held something must resync.
    if (state.held > 0) return null;
    const fresh = newBuffers();
    this.buffers.set(state.id, fresh);
    return fresh;
  }

  private async storedStats(): Promise<HubStats> {
    return (await this.ctx.storage.get<HubStats>("stats")) ?? { ...ZERO_STATS };
  }

  /** Adds to the counters in one write, and has them reported. */
  private async count(changes: Partial<HubStats>) {
    const entries = Object.entries(changes).filter(([, by]) => by !== 0) as [keyof HubStats, number][];
    if (entries.length === 0) return;
    const stats = await this.storedStats();
    for (const [field, by] of entries) stats[field] += by;
    await this.ctx.storage.put("stats", stats);
    await this.reportSoon();
  }

  /** Reports the counters to the control database shortly, once for a burst of changes. */
  private async reportSoon() {
    if ((await this.ctx.storage.getAlarm()) === null) await this.ctx.storage.setAlarm(Date.now() + REPORT_DELAY_MS);
  }

  override async alarm() {
    const tenantId = await this.ctx.storage.get<string>("tenant");
    if (tenantId === undefined) return;
    const now = Date.now();
    await reportCounters(controlDb(this.env), tenantId, await this.stats(), now);
  }

  private send(ws: WebSocket, messages: ServerMessage[]) {
    for (const message of messages) ws.send(JSON.stringify(message));
  }

  private async resync(ws: WebSocket, state: ConnectionState, reason: string) {
    const last = state.sentSeq > 0 ? eventId(state.tenantId, state.sentSeq) : null;
    this.send(ws, [{ kind: "resync", reason, last_event_id: last }]);
    ws.close(CLOSE_RESYNC, "resync");
    this.buffers.delete(state.id);
    await this.count({ resyncs: 1, dropped: 1 });
  }

  /** Hands `events` (after `seenSeq`, gapless) to the connection; false when it was closed. */
  private async deliver(ws: WebSocket, state: ConnectionState, events: FeedEvent[]): Promise<boolean> {
    const buffers = this.buffersOf(state);
    if (!buffers) {
      await this.resync(ws, state, "the stream's state was lost while the client was behind");
      return false;
    }
    const outcome = offer(state, buffers, events);
    this.send(ws, outcome.send);
    await this.count({ coalesced: outcome.coalesced });
    if (outcome.resync !== null) {
      await this.resync(ws, state, outcome.resync);
      return false;
    }
    ws.serializeAttachment(state);
    return true;
  }

  /** Opens a connection: the Worker checked the ticket, the tenant and the tier's limit before. */
  override async fetch(request: Request): Promise<Response> {
    const connect = JSON.parse(request.headers.get("x-stream-connect") ?? "null") as ConnectRequest | null;
    if (!connect || request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("expected a WebSocket upgrade from the Worker", { status: 400 });
    }
    if (this.ctx.getWebSockets().length >= connect.limit) {
      await this.count({ refused: 1 });
      return Response.json({ refused: "limit", limit: connect.limit }, { status: 429 });
    }
    const newest = await newestSeq(this.env, connect.tenantId);
    let from = newest;
    let backlog: FeedEvent[] = [];
    if (connect.afterSeq !== null && connect.afterSeq < newest) {
      backlog = await feedAfter(this.env, connect.tenantId, connect.afterSeq, newest, RESUME_LIMIT + 1);
      // Resumable only while the feed still holds every event after it, and not too many.
      const first = backlog[0]?.seq;
      from = connect.afterSeq;
      if (backlog.length > RESUME_LIMIT || first !== connect.afterSeq + 1) backlog = [];
    }
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server, [`key:${connect.keyId}`]);
    const state = newConnection(crypto.randomUUID(), connect.tenantId, connect.keyId, connect.types, from, Date.now());
    this.buffers.set(state.id, newBuffers());
    server.serializeAttachment(state);
    await this.ctx.storage.put("tenant", connect.tenantId);
    await this.count({ opened: 1 });
    const start = from > 0 ? eventId(connect.tenantId, from) : null;
    this.send(server, [{ kind: "ready", connection_id: state.id, last_event_id: start, window: WINDOW }]);
    if (connect.afterSeq !== null && connect.afterSeq < newest && backlog.length === 0) {
      await this.resync(
        server,
        state,
        `cannot resume: more than ${RESUME_LIMIT} events behind, or past the feed's retention`,
      );
    } else if (backlog.length > 0) {
      await this.deliver(server, state, backlog);
    }
    return new Response(null, { status: 101, webSocket: client });
  }

  /**
   * The tenant's new events, from the events queue (at least once, in any order): each
   * connection gets those after what it has seen, the feed filling in whatever the batch lacks.
   */
  async publish(tenantId: string, events: FeedEvent[]): Promise<number> {
    const sockets = this.ctx.getWebSockets();
    if (sockets.length === 0 || events.length === 0) return sockets.length;
    const bySeq = new Map(events.map((event) => [event.seq, event]));
    const newest = Math.max(...bySeq.keys());
    const behind = sockets.flatMap((ws) => {
      const state = this.state(ws);
      return state && state.seenSeq < newest ? [{ ws, state }] : [];
    });
    if (behind.length === 0) return sockets.length;
    // What the batch lacks of any connection's way to `newest`, read from the feed once.
    const from = Math.min(...behind.map(({ state }) => state.seenSeq));
    let complete = true;
    for (let seq = from + 1; seq <= newest && complete; seq++) complete = bySeq.has(seq);
    if (!complete) {
      for (const event of await feedAfter(
        this.env,
        tenantId,
        Math.max(from, newest - RESUME_LIMIT - 1),
        newest,
        RESUME_LIMIT + 1,
      )) {
        bySeq.set(event.seq, event);
      }
    }
    for (const { ws, state } of behind) {
      if (newest - state.seenSeq > RESUME_LIMIT) {
        await this.resync(ws, state, `more than ${RESUME_LIMIT} events behind`);
        continue;
      }
      const wanted: FeedEvent[] = [];
      // A seq the feed no longer holds (retention) is passed over: nothing will fill it.
      for (let seq = state.seenSeq + 1; seq <= newest; seq++) {
        const event = bySeq.get(seq);
        if (event) wanted.push(event);
      }
      if (wanted.length === 0) {
        state.seenSeq = newest;
        ws.serializeAttachment(state);
        continue;
      }
      await this.deliver(ws, state, wanted);
    }
    return sockets.length;
  }

  override async webSocketMessage(ws: WebSocket, message: string | ArrayBuffer) {
    const state = this.state(ws);
    if (!state) return;
    let seq: number | null = null;
    try {
      const parsed = JSON.parse(typeof message === "string" ? message : new TextDecoder().decode(message)) as {
        kind?: string;
        last_event_id?: string;
      };
      if (parsed.kind === "ack" && typeof parsed.last_event_id === "string") {
        seq = seqOfEventId(state.tenantId, parsed.last_event_id);
      }
    } catch {
      seq = null;
    }
    if (seq === null) {
      ws.close(CLOSE_BAD_MESSAGE, 'expected {"kind":"ack","last_event_id":"evt_…"}');
      this.buffers.delete(state.id);
      await this.count({ dropped: 1 });
      return;
    }
    const buffers = this.buffersOf(state);
    if (!buffers) {
      await this.resync(ws, state, "the stream's state was lost while the client was behind");
      return;
    }
    this.send(ws, acknowledge(state, buffers, seq));
    ws.serializeAttachment(state);
  }

  override async webSocketClose(ws: WebSocket, code: number) {
    const state = this.state(ws);
    if (state) this.buffers.delete(state.id);
    await this.reportSoon();
    // The client's close, answered (1005: it gave no code, which may not be sent back).
    try {
      ws.close(code === 1005 || code === 1006 ? 1000 : code, "closed");
    } catch {
      // Already closed.
    }
  }

  override async webSocketError(ws: WebSocket) {
    const state = this.state(ws);
    if (state) this.buffers.delete(state.id);
  }

  /** Closes every connection (the tenant deleted, archived or suspended), or those of one key (revoked). */
  async closeConnections(code: number, reason: string, keyId?: string): Promise<number> {
    const sockets = keyId === undefined ? this.ctx.getWebSockets() : this.ctx.getWebSockets(`key:${keyId}`);
    for (const ws of sockets) {
      const state = this.state(ws);
      if (state) this.buffers.delete(state.id);
      ws.close(code, reason);
    }
    await this.count({ dropped: sockets.length });
    return sockets.length;
  }

  async stats(): Promise<HubStats & { active: number }> {
    return { ...(await this.storedStats()), active: this.ctx.getWebSockets().length };
  }
}
