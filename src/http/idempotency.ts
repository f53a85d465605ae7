import { and, eq, lt } from "drizzle-orm";
import { createMiddleware } from "hono/factory";
import type { ControlDb } from "../db/client";
import type { AppEnv } from "../env";
import { sha256Hex } from "../keys/secret";
import { idempotencyRecords } from "./idempotency-table";
import { AppError } from "./problems";
import { open, seal } from "./sealed";

export type IdempotencyOptions = {
  /** How long a completed response is replayed; Stripe keeps keys for 24 hours. */
  ttlMs?: number;
  /** An in-progress record older than this is treated as abandoned (the isolate died mid-request). */
  lockTimeoutMs?: number;
};

const KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;
/** Responses that mean the request never ran are not stored, so a corrected retry may reuse the key. */
const NOT_STORED = new Set([400, 401, 403, 413, 415, 429]);

type Claimed = { kind: "claimed" } | { kind: "replay"; status: number; sealed: string };

async function claim(
  db: ControlDb,
  record: { principal: string; key: string; method: string; path: string; requestHash: string },
  now: number,
  options: Required<IdempotencyOptions>,
): Promise<Claimed> {
  for (let attempt = 0; attempt < 2; attempt++) {
    const inserted = await db
      .insert(idempotencyRecords)
      .values({ ...record, state: "in_progress", createdAt: now, expiresAt: now + options.ttlMs })
      .onConflictDoNothing()
      .returning({ key: idempotencyRecords.key });
    if (inserted.length > 0) return { kind: "claimed" };

    const existing = await db.query.idempotencyRecords.findFirst({
      where: and(eq(idempotencyRecords.principal, record.principal), eq(idempotencyRecords.key, record.key)),
    });
    if (!existing) continue;
    const abandoned = existing.state === "in_progress" && existing.createdAt + options.lockTimeoutMs <= now;
    if (existing.expiresAt <= now || abandoned) {
      await db
        .delete(idempotencyRecords)
        .where(
          and(
            eq(idempotencyRecords.principal, record.principal),
            eq(idempotencyRecords.key, record.key),
            eq(idempotencyRecords.createdAt, existing.createdAt),
          ),
        );
      continue;
    }
    if (existing.requestHash !== record.requestHash) {
      throw new AppError("idempotency-key-reused", "This Idempotency-Key was sent before with another request");
    }
    if (existing.state === "in_progress") {
      throw new AppError("idempotency-key-in-use", undefined, { headers: { "Retry-After": "1" } });
    }
    return { kind: "replay", status: existing.status ?? 200, sealed: existing.body ?? "" };
  }
  throw new AppError("idempotency-key-in-use", undefined, { headers: { "Retry-After": "1" } });
}

/**
 * Stripe-style `Idempotency-Key` on POST: the same key and request replay the first response for
 * 24 h; the same key with another request is 422; a duplicate still in flight is 409. Keys are
 * scoped to the calling API key. Runs after authentication.
 */
export const idempotency = (options: IdempotencyOptions = {}) => {
  const settings = { ttlMs: 24 * 3600_000, lockTimeoutMs: 60_000, ...options };
  return createMiddleware<AppEnv>(async (c, next) => {
    const key = c.req.header("Idempotency-Key");
    if (c.req.method !== "POST" || key === undefined) return next();
    if (!KEY_PATTERN.test(key)) {
      throw new AppError("validation-error", "Idempotency-Key must be 1-255 visible ASCII characters", {
        extensions: { errors: [{ path: "header.Idempotency-Key", message: "1-255 visible ASCII characters" }] },
      });
    }
    const { db } = c.var;
    const path = new URL(c.req.url).pathname;
    const body = await c.req.text();
    const record = {
      principal: c.var.principal.keyId,
      key,
      method: c.req.method,
      path,
      requestHash: sha256Hex(`${c.req.method} ${path}\n${body}`),
    };
    const claimed = await claim(db, record, Date.now(), settings);
    // Stored responses may hold secrets (a new API key's, say), so they are sealed under the
    // caller's own key, which the database never sees: only the caller can have them replayed.
    const context = `${record.principal}:${key}`;
    if (claimed.kind === "replay") {
      const stored = JSON.parse(await open(c.var.credential, context, claimed.sealed)) as {
        headers: [string, string][];
        body: string;
      };
      const headers = new Headers(stored.headers);
      headers.set("Idempotent-Replayed", "true");
      headers.set("X-Request-Id", c.var.requestId);
      return new Response(stored.body, { status: claimed.status, headers });
    }

    const release = () =>
      db
        .delete(idempotencyRecords)
        .where(and(eq(idempotencyRecords.principal, record.principal), eq(idempotencyRecords.key, key)));
    try {
      await next();
    } catch (error) {
      await release();
      throw error;
    }
    // onError has already turned thrown errors into c.res by the time next() resolves.
    const res = c.res;
    if (res.status >= 500 || NOT_STORED.has(res.status)) {
      await release();
      return;
    }
    const headers = [...res.headers].filter(([name]) => !/^x-request-id$/i.test(name));
    const sealed = await seal(c.var.credential, context, JSON.stringify({ headers, body: await res.clone().text() }));
    await db
      .update(idempotencyRecords)
      .set({ state: "completed", status: res.status, body: sealed })
      .where(and(eq(idempotencyRecords.principal, record.principal), eq(idempotencyRecords.key, key)));
  });
};

/** Drops expired records; called from the scheduled handler. */
export async function purgeExpiredIdempotencyRecords(db: ControlDb, now = Date.now()) {
  await db.delete(idempotencyRecords).where(lt(idempotencyRecords.expiresAt, now));
}
