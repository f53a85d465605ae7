import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { CLOSE_KEY_REVOKED, CLOSE_RESYNC, CLOSE_TENANT_GONE, RESUME_LIMIT, WINDOW } from "../../src/stream/connection";
import { adminKey, call, createTenant, expectProblem, settled, shardBinding, tenantKey } from "../helpers";

// The stream end to end: a ticket, the WebSocket through the Worker to the tenant's hub, and
// events from entry writes through the relay, the events queue and its consumer.

type Message = {
  kind: string;
  event?: { id: string; seq: number; type: string; subject: { id: string } };
  [k: string]: unknown;
};

/** A client of the stream: every message it got, and how it was closed. */
class Client {
  readonly messages: Message[] = [];
  closed: { code: number; reason: string } | null = null;
  constructor(readonly ws: WebSocket) {
    ws.accept();
    ws.addEventListener("message", (e) => this.messages.push(JSON.parse(String(e.data)) as Message));
    ws.addEventListener("close", (e) => {
      this.closed = { code: e.code, reason: e.reason };
    });
  }
  events = () => this.messages.filter((m) => m.kind === "event");
  ack(id: string) {
    this.ws.send(JSON.stringify({ kind: "ack", last_event_id: id }));
  }
  async until<T>(what: string, read: () => T | undefined, timeoutMs = 15_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = read();
      if (value !== undefined) return value;
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for ${what}: ${JSON.stringify(this.messages.slice(-3))}`);
      await scheduler.wait(20);
    }
  }
}

async function setup(overrides: Record<string, unknown> = {}) {
  const admin = await adminKey();
  const tenant = await createTenant(admin, overrides);
  const key = await tenantKey(admin, tenant.id);
  return { admin, tenant, key: key.secret, keyId: key.id, base: `/v1/tenants/${tenant.id}/stream` };
}

async function ticket(base: string, key: string, types?: string[]) {
  const res = await call(`${base}/tickets`, { method: "POST", key, body: types ? { types } : {} });
  expect(res.status, res.text).toBe(201);
  return res.json as { ticket: string; url: string; expires_at: string };
}

async function open(path: string) {
  const res = await exports.default.fetch(
    new Request(`http://localhost${path}`, { headers: { Upgrade: "websocket" } }),
  );
  return res;
}

async function connect(path: string) {
  const res = await open(path);
  if (res.status !== 101) throw new Error(`not upgraded: ${res.status} ${await res.text()}`);
  const client = new Client(res.webSocket as WebSocket);
  await client.until("ready", () => client.messages.find((m) => m.kind === "ready"));
  return client;
}

async function write(tenantId: string, key: string, data: unknown, entryId?: string) {
  const res = await call(`/v1/tenants/${tenantId}/entries${entryId ? `/${entryId}` : ""}`, {
    method: entryId ? "PUT" : "POST",
    key,
    body: { data },
  });
  expect(res.status, res.text).toBe(entryId ? 200 : 201);
  return res.json as { id: string };
}

describe("the realtime stream", () => {
  it("pushes the tenant's events in seq order, filtered by type", async () => {
    const { tenant, key, base } = await setup();
    await settled(tenant.id);
    const all = await connect((await ticket(base, key)).url);
    const entries = await connect((await ticket(base, key, ["entry.created"])).url);
    const first = await write(tenant.id, key, { n: 1 });
    await write(tenant.id, key, { n: 2 }, first.id);
    await write(tenant.id, key, { n: 3 });
    await all.until("three events", () => (all.events().length >= 3 ? true : undefined));
    const seqs = all.events().map((m) => m.event?.seq as number);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(all.events().map((m) => m.event?.type)).toEqual(["entry.created", "entry.replaced", "entry.created"]);
    await entries.until("two events", () => (entries.events().length >= 2 ? true : undefined));
    expect(entries.events().map((m) => m.event?.type)).toEqual(["entry.created", "entry.created"]);
    // The events are the feed's.
    const feed = await call(`/v1/tenants/${tenant.id}/events?limit=100`, { key });
    const last = all.events().at(-1)?.event;
    expect(feed.json.data.find((e: { id: string }) => e.id === last?.id)).toEqual(last);
    all.ws.close(1000);
    entries.ws.close(1000);
  });

  it.each(["d1-shared-0", "pg-0"])("resumes after last_event_id with what the client missed (%s)", async (shard) => {
    const { tenant, key, base } = await setup({ shard_id: shard });
    expect(tenant.shard_id).toBe(shard);
    const a = await write(tenant.id, key, { n: 1 });
    await write(tenant.id, key, { n: 2 });
    await write(tenant.id, key, { n: 3 });
    await settled(tenant.id);
    const feed = (await call(`/v1/tenants/${tenant.id}/events?limit=100`, { key })).json.data as {
      id: string;
      subject: { id: string };
    }[];
    const firstEntry = feed.find((e) => e.subject.id === a.id) as { id: string };
    const resumed = await connect(`${(await ticket(base, key)).url}&last_event_id=${firstEntry.id}`);
    await resumed.until("the two after it", () => (resumed.events().length >= 2 ? true : undefined));
    const after = feed.slice(feed.indexOf(firstEntry as (typeof feed)[number]) + 1).map((e) => e.id);
    expect(resumed.events().map((m) => m.event?.id)).toEqual(after);
    resumed.ws.close(1000);
  });

  it("coalesces a subject's updates past the window: the final state goes out once the client catches up", async () => {
    const { tenant, key, base } = await setup();
    const entry = await write(tenant.id, key, { n: 0 });
    await settled(tenant.id);
    const slow = await connect((await ticket(base, key)).url);
    // More than the window of updates, never acknowledged.
    for (let n = 1; n <= WINDOW + 20; n++) await write(tenant.id, key, { n }, entry.id);
    await settled(tenant.id);
    await slow.until("the window", () => (slow.events().length >= WINDOW ? true : undefined));
    await scheduler.wait(200);
    expect(slow.events()).toHaveLength(WINDOW);
    // Acknowledged: the 20 held updates of the one entry go out as its final state.
    slow.ack(slow.events().at(-1)?.event?.id as string);
    const final = await slow.until("the coalesced update", () => slow.events()[WINDOW]);
    expect(final.event?.seq).toBe((slow.events()[WINDOW - 1]?.event?.seq as number) + 20);
    expect(final.coalesced).toBe(19);
    const stats = await call(`${base}/stats`, { key });
    expect(stats.json).toMatchObject({ active: 1, coalesced: 19 });
    slow.ws.close(1000);
  }, 60_000);

  it("resyncs a client that was behind when the hub lost what it held (evicted from memory)", async () => {
    const { tenant, key, base } = await setup();
    const entry = await write(tenant.id, key, { n: 0 });
    await settled(tenant.id);
    const slow = await connect((await ticket(base, key)).url);
    for (let n = 1; n <= WINDOW + 2; n++) await write(tenant.id, key, { n }, entry.id);
    await settled(tenant.id);
    await slow.until("the window", () => (slow.events().length >= WINDOW ? true : undefined));
    // As after hibernation: the sockets and their attachments stay, the memory is new.
    await runInDurableObject(env.STREAM_HUB.get(env.STREAM_HUB.idFromName(tenant.id)), (hub) => {
      (hub as unknown as { buffers: Map<string, unknown> }).buffers.clear();
    });
    await write(tenant.id, key, { n: "after" }, entry.id);
    await slow.until("the close", () => slow.closed ?? undefined);
    expect(slow.closed?.code).toBe(CLOSE_RESYNC);
    expect(slow.messages.at(-1)).toMatchObject({ kind: "resync", reason: expect.stringContaining("lost") });
  }, 60_000);

  it("closes with resync when it cannot resume: the feed no longer holds what came after last_event_id", async () => {
    const { tenant, key, base } = await setup({ shard_id: "d1-shared-0" });
    for (let n = 0; n < 3; n++) await write(tenant.id, key, { n });
    await settled(tenant.id);
    const feed = (await call(`/v1/tenants/${tenant.id}/events?limit=100`, { key })).json.data as {
      id: string;
      seq: number;
    }[];
    const [first, second] = feed as [{ id: string; seq: number }, { id: string; seq: number }];
    // Retention dropped the second event (and the first).
    const shard = await shardBinding(tenant.shard_id);
    await shard.prepare("DELETE FROM events WHERE tenant_id = ? AND seq <= ?").bind(tenant.id, second.seq).run();
    const client = await connect(`${(await ticket(base, key)).url}&last_event_id=${first.id}`);
    await client.until("the close", () => client.closed ?? undefined);
    expect(client.closed?.code).toBe(CLOSE_RESYNC);
    expect(client.messages.at(-1)).toMatchObject({ kind: "resync", reason: expect.stringContaining("cannot resume") });
    expect(client.events()).toEqual([]);
    expect((await call(`${base}/stats`, { key })).json).toMatchObject({ resyncs: 1, dropped: 1 });
    expect(RESUME_LIMIT).toBe(1000);
  });

  it("a ticket shown twice at once opens one connection", async () => {
    const { key, base } = await setup();
    const { url } = await ticket(base, key);
    const answers = await Promise.all([open(url), open(url), open(url)]);
    expect(answers.map((res) => res.status).sort()).toEqual([101, 401, 401]);
    for (const res of answers) res.webSocket?.accept();
    for (const res of answers) res.webSocket?.close(1000);
  });

  it("tickets: single use, for their tenant, within 60 s; the key's revocation closes its connections", async () => {
    const { admin, tenant, key, keyId, base } = await setup();
    const issued = await ticket(base, key);
    expect(issued.ticket).toMatch(/^stk_[A-Za-z0-9_-]{43}$/);
    expect(Date.parse(issued.expires_at) - Date.now()).toBeLessThanOrEqual(60_000);
    // Not a WebSocket: refused without spending the ticket.
    expectProblem(await call(issued.url, {}), 426, "upgrade-required");
    // Another tenant's path: the ticket opens nothing there.
    const other = await createTenant(admin);
    const foreign = await open(`/v1/tenants/${other.id}/stream?ticket=${issued.ticket}`);
    expect(foreign.status).toBe(401);
    const client = await connect(issued.url);
    const again = await open(issued.url);
    expect(again.status).toBe(401);
    expect(await again.json()).toMatchObject({ type: expect.stringMatching(/\/stream-ticket-invalid$/) });
    // An expired one.
    const old = await ticket(base, key);
    await env.CONTROL_DB.prepare("UPDATE stream_tickets SET expires_at = ? WHERE key_id = ? AND used_at IS NULL")
      .bind(Date.now() - 1, keyId)
      .run();
    expect((await open(old.url)).status).toBe(401);
    // Revoking the key that asked closes its connection.
    const revoked = await call(`/v1/tenants/${tenant.id}/keys/${keyId}`, { method: "DELETE", key: admin });
    expect(revoked.status).toBeLessThan(300);
    await client.until("the close", () => client.closed ?? undefined);
    expect(client.closed?.code).toBe(CLOSE_KEY_REVOKED);
  });

  it("closes the tenant's connections when it is suspended; refuses new ones under degrade.realtime", async () => {
    const { admin, tenant, key, base } = await setup();
    const client = await connect((await ticket(base, key)).url);
    const suspended = await call(`/v1/tenants/${tenant.id}`, {
      method: "PATCH",
      key: admin,
      body: { status: "SUSPENDED" },
    });
    expect(suspended.status, suspended.text).toBe(200);
    await client.until("the close", () => client.closed ?? undefined);
    expect(client.closed?.code).toBe(CLOSE_TENANT_GONE);
    await call(`/v1/tenants/${tenant.id}`, { method: "PATCH", key: admin, body: { status: "ACTIVE" } });
    const flag = await call("/v1/flags", {
      method: "POST",
      key: admin,
      body: { key: "degrade.realtime", type: "boolean", default_value: false, on_value: true, degrade: true },
    });
    expect(flag.status, flag.text).toBe(201);
    try {
      await scheduler.wait(1100);
      const refused = await open((await ticket(base, key)).url);
      expect(refused.status).toBe(503);
      expect(await refused.json()).toMatchObject({ type: expect.stringMatching(/\/degraded$/) });
    } finally {
      await call("/v1/flags/degrade.realtime", { method: "DELETE", key: admin });
    }
  });

  it("refuses bad input, a key without entries:read, another tenant's key, and connections past the plan's limit", async () => {
    const { admin, tenant, key, base } = await setup();
    expectProblem(
      await call(`${base}/tickets`, { method: "POST", key, body: { types: ["nope.*"] } }),
      400,
      "validation-error",
    );
    expectProblem(await call(`${base}/tickets`, { method: "POST", key, body: { extra: 1 } }), 400, "validation-error");
    const writer = (await tenantKey(admin, tenant.id, ["entries:write"])).secret;
    expectProblem(await call(`${base}/tickets`, { method: "POST", key: writer }), 403, "insufficient-scope");
    const other = await createTenant(admin);
    const theirs = (await tenantKey(admin, other.id)).secret;
    expectProblem(await call(`${base}/tickets`, { method: "POST", key: theirs }), 404, "not-found");
    expectProblem(await call(`${base}/stats`, { key: theirs }), 404, "not-found");
    expect((await open(base)).status).toBe(400);
    const bad = await open(`${(await ticket(base, key)).url}&last_event_id=evt_nope`);
    expect(bad.status).toBe(400);
    // STANDARD allows 25 at once.
    const clients: Client[] = [];
    for (let i = 0; i < 25; i++) clients.push(await connect((await ticket(base, key)).url));
    const refused = await open((await ticket(base, key)).url);
    expect(refused.status).toBe(429);
    expect((await call(`${base}/stats`, { key })).json).toMatchObject({ active: 25, refused: 1, limit: 25 });
    // The hub reports its counters a moment later; /metrics adds every tenant's up.
    const deadline = Date.now() + 10_000;
    let row: { active: number; refused: number } | null = null;
    while (Date.now() < deadline) {
      row = await env.CONTROL_DB.prepare("SELECT active, refused FROM stream_counters WHERE tenant_id = ?")
        .bind(tenant.id)
        .first<{ active: number; refused: number }>();
      if (row?.active === 25) break;
      await scheduler.wait(100);
    }
    expect(row).toEqual({ active: 25, refused: 1 });
    const metrics = await call("/metrics", { key: admin });
    expect(Number(/^edge_tenancy_stream_connections (\d+)$/m.exec(metrics.text)?.[1])).toBeGreaterThanOrEqual(25);
    expect(
      Number(/^edge_tenancy_stream_connections_refused_total (\d+)$/m.exec(metrics.text)?.[1]),
    ).toBeGreaterThanOrEqual(1);
    for (const client of clients) client.ws.close(1000);
  }, 60_000);
});
