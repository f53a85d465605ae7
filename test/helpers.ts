import { env, exports } from "cloudflare:workers";
import { afterEach, beforeEach, type MockInstance, vi } from "vitest";
import { systemActor } from "../src/auth/actor";
import { controlDb } from "../src/db/client";
import type { Change } from "../src/events/change";
import { domainEvents } from "../src/events/listeners";
import type { Scope } from "../src/keys/scopes";
import { createKey } from "../src/keys/service";
import { loadRoute } from "../src/routing/route";
import { openStore } from "../src/shards/connection";

export type Call = {
  method?: string;
  key?: string;
  body?: unknown;
  headers?: Record<string, string>;
};

/** Sends a request through the Worker's own fetch handler. */
export async function call(path: string, options: Call = {}) {
  const headers = new Headers(options.headers);
  if (options.key) headers.set("Authorization", `Bearer ${options.key}`);
  let body: string | Uint8Array | undefined;
  if (options.body !== undefined) {
    // A string or bytes go as they are (malformed bodies, raw encodings); anything else as JSON.
    body =
      typeof options.body === "string" || options.body instanceof Uint8Array
        ? options.body
        : JSON.stringify(options.body);
    if (!headers.has("Content-Type")) headers.set("Content-Type", "application/json");
  }
  const res = await exports.default.fetch(
    new Request(`http://localhost${path}`, { method: options.method ?? "GET", headers, body }),
  );
  const text = await res.text();
  let json: any;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, json, text };
}

/** A platform-admin key, minted the way `npm start` and `npm run admin-key` mint one. */
export async function adminKey(): Promise<string> {
  const { secret } = await createKey(controlDb(env), domainEvents(env), null, {
    name: "test admin",
    scopes: ["entries:read", "entries:write", "tenant:admin"],
  });
  return secret;
}

let counter = 0;
export const uniqueSlug = (base = "t") => `${base}-${Date.now().toString(36)}-${counter++}`;

export async function createTenant(admin: string, overrides: Record<string, unknown> = {}) {
  const res = await call("/v1/tenants", {
    method: "POST",
    key: admin,
    body: { name: "Acme", slug: uniqueSlug(), tier: "STANDARD", ...overrides },
  });
  if (res.status !== 201) throw new Error(`tenant creation failed: ${res.status} ${res.text}`);
  return res.json as { id: string; status: string; shard_id: string | null; [k: string]: unknown };
}

export async function tenantKey(
  admin: string,
  tenantId: string,
  scopes: Scope[] = ["entries:read", "entries:write", "tenant:admin"],
  extra: Record<string, unknown> = {},
) {
  const res = await call(`/v1/tenants/${tenantId}/keys`, {
    method: "POST",
    key: admin,
    body: { name: "test key", scopes, ...extra },
  });
  if (res.status !== 201) throw new Error(`key creation failed: ${res.status} ${res.text}`);
  return res.json as { id: string; secret: string; prefix: string };
}

/** The key with its last character changed: same prefix, wrong secret (never the key itself). */
export const wrongSecret = (key: string) => `${key.slice(0, -1)}${key.endsWith("x") ? "y" : "x"}`;

/** The field paths a validation-error problem lists, e.g. `body.data`. */
export const errorPaths = (res: Awaited<ReturnType<typeof call>>) =>
  (res.json.errors as { path: string }[]).map((error) => error.path);

/** A problem+json body with the given type slug and status. */
export function expectProblem(res: Awaited<ReturnType<typeof call>>, status: number, type: string) {
  const detail = `${res.status} ${res.text}`;
  if (res.status !== status) throw new Error(`expected ${status} ${type}, got ${detail}`);
  if (!res.headers.get("Content-Type")?.startsWith("application/problem+json"))
    throw new Error(`not problem+json: ${detail}`);
  if (!String(res.json?.type).endsWith(`/${type}`)) throw new Error(`expected type ${type}, got ${detail}`);
  if (!res.json?.request_id || res.json.request_id !== res.headers.get("X-Request-Id"))
    throw new Error(`request id missing: ${detail}`);
  for (const field of ["title", "detail", "instance"]) {
    if (typeof res.json[field] !== "string" || res.json[field] === "") throw new Error(`no ${field}: ${detail}`);
  }
  if (res.json.status !== status) throw new Error(`status field is not ${status}: ${detail}`);
}

/**
 * Follows next_cursor from the first page to the last, checking each page answers 200 and holds
 * at most `limit` items. `path` may carry its own query (e.g. `?tag=x`).
 */
export async function listAll<T = any>(path: string, key: string, limit = 100) {
  const items: T[] = [];
  const pages: T[][] = [];
  let cursor: string | null = null;
  do {
    const url = new URL(path, "http://localhost");
    url.searchParams.set("limit", String(limit));
    if (cursor) url.searchParams.set("cursor", cursor);
    const res = await call(`${url.pathname}${url.search}`, { key });
    if (res.status !== 200) throw new Error(`listing ${url.pathname}${url.search}: ${res.status} ${res.text}`);
    if (res.json.data.length > limit) throw new Error(`page larger than limit ${limit}`);
    pages.push(res.json.data);
    items.push(...res.json.data);
    cursor = res.json.next_cursor;
    if (pages.length > 200) throw new Error("pagination does not terminate");
  } while (cursor);
  return { items, pages };
}

/**
 * Captures console.error or console.warn during each test of the calling file: the Worker logs the
 * faults those tests provoke on purpose. Returns a getter for the current test's spy.
 */
export function captureConsole(method: "error" | "warn") {
  let spy: MockInstance<(typeof console)["error"]> | undefined;
  beforeEach(() => {
    spy = vi.spyOn(console, method).mockImplementation(() => undefined);
  });
  afterEach(() => {
    spy?.mockRestore();
  });
  return () => {
    if (!spy) throw new Error("captureConsole: no test is running");
    return spy;
  };
}

/** The D1 database behind a registered shard, found through the registry's binding name. */
export async function shardBinding(shardId: string | null): Promise<D1Database> {
  const row = await env.CONTROL_DB.prepare("SELECT binding FROM shards WHERE id = ?").bind(shardId).first<{
    binding: string;
  }>();
  const db = row ? (env as unknown as Record<string, unknown>)[row.binding] : undefined;
  if (!db) throw new Error(`no D1 binding for shard ${shardId}`);
  return db as D1Database;
}

/** The change of a test that writes through a store directly: no request, the test as a system job. */
export const TEST_CHANGE: Change = { requestId: null, actor: systemActor("test") };

/**
 * Waits until the relay has carried the tenant's outbox to its shard and the events queue's
 * consumer has delivered its whole feed: nothing of the tenant's is then still on its way.
 */
export async function settled(tenantId: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const outboxed = await env.CONTROL_DB.prepare("SELECT count(*) AS n FROM outbox WHERE tenant_id = ?")
      .bind(tenantId)
      .first<{ n: number }>();
    const route = await loadRoute(controlDb(env), tenantId);
    let newest = 0;
    if (route?.shard) {
      const store = await openStore(env, route.shard);
      try {
        const unpublished = await store.feed.unpublished(tenantId, 1);
        const feed = await store.feed.page(tenantId, 0, 100_000);
        newest = unpublished.length > 0 ? -1 : (feed.at(-1)?.seq ?? 0);
      } finally {
        await store.close();
      }
    }
    const cursor = await env.CONTROL_DB.prepare("SELECT through_seq AS seq FROM event_cursors WHERE tenant_id = ?")
      .bind(tenantId)
      .first<{ seq: number }>();
    if (outboxed?.n === 0 && newest >= 0 && (cursor?.seq ?? 0) >= newest) return;
    if (Date.now() > deadline) {
      throw new Error(`tenant ${tenantId} not settled: outbox ${outboxed?.n}, feed ${newest}, cursor ${cursor?.seq}`);
    }
    await scheduler.wait(20);
  }
}
