import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { Webhook } from "standardwebhooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiOf, type ServedWorker, serveWorker } from "../served-worker";

// Deliveries end to end: the Worker served by workerd with its real queues (the events queue's
// fan-out, the webhooks queue with its delays), a receiver listening on this machine, and the
// official Standard Webhooks library checking every signature as a receiver would.

type Received = { path: string; headers: IncomingHttpHeaders; body: string; at: number };

let worker: ServedWorker;
let receiver: Server;
let hooks: string;
let tenantId: string;
let owner: string;
const api = apiOf(() => worker);
const received: Received[] = [];
/** What the receiver answers next, per path; 204 once a path's list is used up. */
const answers = new Map<string, { status: number; headers?: Record<string, string> }[]>();

async function until<T>(what: string, read: () => Promise<T | undefined> | T | undefined, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** An endpoint at `path` of the receiver; returns its id and secret. */
async function endpoint(path: string, events: string[]) {
  const res = await api(`/v1/tenants/${tenantId}/webhooks`, {
    method: "POST",
    key: owner,
    body: { url: `${hooks}${path}`, events },
  });
  expect(res.status, res.text).toBe(201);
  return res.json as { id: string; secret: string };
}

const at = (path: string) => received.filter((r) => r.path === path);
const headersOf = (r: Received) => r.headers as Record<string, string>;

async function entry(n: number) {
  const res = await api(`/v1/tenants/${tenantId}/entries`, { method: "POST", key: owner, body: { data: { n } } });
  expect(res.status, res.text).toBe(201);
  return res.json as { id: string };
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      const path = req.url ?? "/";
      received.push({ path, headers: req.headers, body: Buffer.concat(chunks).toString("utf8"), at: Date.now() });
      const next = answers.get(path)?.shift() ?? { status: 204 };
      res.writeHead(next.status, next.headers).end(next.status === 204 ? undefined : `answer ${next.status}`);
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, "127.0.0.1", resolve));
  hooks = `http://127.0.0.1:${(receiver.address() as { port: number }).port}`;
  // npm start's allow-list: receivers on this machine.
  worker = await serveWorker(".wrangler/webhooks-test/dist", { bindings: { WEBHOOK_ALLOW_HOSTS: "127.0.0.1" } });
  const tenant = await api("/v1/tenants", {
    method: "POST",
    body: { name: "Hooks", slug: `hooks-${Date.now()}`, tier: "STANDARD", shard_id: "d1-shared-0" },
  });
  tenantId = tenant.json.id;
  const key = await api(`/v1/tenants/${tenantId}/keys`, {
    method: "POST",
    body: { name: "owner", scopes: ["tenant:admin", "entries:read", "entries:write"] },
  });
  owner = key.json.secret;
}, 180_000);

afterAll(() => {
  worker?.stop();
  receiver?.close();
});

describe("webhook deliveries through the real queues", { timeout: 60_000 }, () => {
  it("deliver the tenant's event, signed so the official library verifies it", async () => {
    const { id, secret } = await endpoint("/orders", ["entry.*"]);
    const created = await entry(1);
    const got = await until("the delivery", () => at("/orders")[0]);
    const event = new Webhook(secret).verify(got.body, headersOf(got)) as {
      id: string;
      type: string;
      data: { id: string };
    };
    expect(event).toMatchObject({ type: "entry.created", tenant_id: tenantId, data: { id: created.id } });
    expect(got.headers["webhook-id"]).toBe(event.id);
    expect(got.headers["content-type"]).toBe("application/json");
    // The same event as the feed has it.
    const feed = await api(`/v1/tenants/${tenantId}/events?limit=100`, { key: owner });
    expect(feed.json.data.find((e: { id: string }) => e.id === event.id)).toEqual(event);
    const messages = await until("the message delivered", async () => {
      const res = await api(`/v1/tenants/${tenantId}/webhooks/${id}/messages?status=delivered`, { key: owner });
      return res.json.data.length > 0 ? res.json.data : undefined;
    });
    expect(messages[0]).toMatchObject({ event_id: event.id, attempts: 1, last_status_code: 204 });
  });

  it("retry a failed attempt after 5 s ± 20 % (a redirect is a failure, never followed), and replay a message", async () => {
    const { id, secret } = await endpoint("/flaky", ["entry.*"]);
    answers.set("/flaky", [{ status: 302, headers: { Location: "/elsewhere" } }]);
    await entry(2);
    const [first, second] = (await until("two attempts", () =>
      at("/flaky").length >= 2 ? at("/flaky") : undefined,
    )) as [Received, Received];
    expect(second.at - first.at).toBeGreaterThanOrEqual(3_900);
    expect(second.at - first.at).toBeLessThanOrEqual(7_500);
    expect(at("/elsewhere")).toEqual([]);
    expect(second.headers["webhook-id"]).toBe(first.headers["webhook-id"]);
    expect(new Webhook(secret).verify(second.body, headersOf(second))).toBeTruthy();
    const [message] = (await api(`/v1/tenants/${tenantId}/webhooks/${id}/messages`, { key: owner })).json.data;
    const attempts = await until("both attempts logged", async () => {
      const res = await api(`/v1/tenants/${tenantId}/webhooks/${id}/messages/${message.id}/attempts`, { key: owner });
      return res.json.data.length === 2 ? res.json.data : undefined;
    });
    expect(attempts.map((a: { status_code: number }) => a.status_code)).toEqual([302, 204]);
    expect(attempts[0]).toMatchObject({ error: "redirects are not followed", response: "answer 302" });
    // Replayed: sent again with the same webhook-id.
    const replayed = await api(`/v1/tenants/${tenantId}/webhooks/${id}/messages/${message.id}/replay`, {
      method: "POST",
      key: owner,
    });
    expect(replayed.status, replayed.text).toBe(202);
    const again = await until("the replay", () => at("/flaky")[2]);
    expect(again.headers["webhook-id"]).toBe(first.headers["webhook-id"]);
    expect(new Webhook(secret).verify(again.body, headersOf(again))).toBeTruthy();
  });

  it("sign with both secrets after a rotation: a receiver holding either verifies", async () => {
    const { id, secret: old } = await endpoint("/rotating", ["entry.*"]);
    const rotated = await api(`/v1/tenants/${tenantId}/webhooks/${id}/secret/rotate`, { method: "POST", key: owner });
    expect(rotated.status, rotated.text).toBe(200);
    await entry(3);
    const got = await until("the delivery", () => at("/rotating")[0]);
    expect(String(got.headers["webhook-signature"]).split(" ")).toHaveLength(2);
    expect(new Webhook(old).verify(got.body, headersOf(got))).toMatchObject({ type: "entry.created" });
    expect(new Webhook(rotated.json.secret).verify(got.body, headersOf(got))).toMatchObject({ type: "entry.created" });
  });

  it("disable an endpoint that answers 410, and tell the endpoints subscribed to webhook.* so", async () => {
    const watcher = await endpoint("/watcher", ["webhook.*"]);
    const { id } = await endpoint("/gone", ["entry.*"]);
    answers.set("/gone", [{ status: 410 }]);
    await entry(4);
    const notice = await until("webhook.endpoint_disabled", () => at("/watcher")[0]);
    const event = new Webhook(watcher.secret).verify(notice.body, headersOf(notice));
    expect(event).toMatchObject({
      type: "webhook.endpoint_disabled",
      subject: { type: "webhook", id },
      data: { id, enabled: false, disabled_reason: "gone" },
    });
    const state = await api(`/v1/tenants/${tenantId}/webhooks/${id}`, { key: owner });
    expect(state.json).toMatchObject({ enabled: false, disabled_reason: "gone" });
    // Disabled: the next entry's event is not sent to it.
    const before = at("/gone").length;
    await entry(5);
    await until("the next entry at the first endpoint", () => (at("/orders").length >= 5 ? true : undefined));
    expect(at("/gone")).toHaveLength(before);
  });

  it("send a test event to one endpoint", async () => {
    const { id, secret } = await endpoint("/testing", ["user.*"]);
    const sent = await api(`/v1/tenants/${tenantId}/webhooks/${id}/test`, { method: "POST", key: owner });
    expect(sent.status, sent.text).toBe(202);
    const got = await until("the test event", () => at("/testing")[0]);
    expect(new Webhook(secret).verify(got.body, headersOf(got))).toMatchObject({
      type: "webhook.test",
      tenant_id: tenantId,
    });
  });
});
