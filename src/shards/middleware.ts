import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { problemResponse } from "../http/problem-response";
import { AppError } from "../http/problems";
import type { TenantRoute } from "../routing/route";
import { settings } from "../settings";
import { BOOKMARK_HEADER, openBookmark, sealBookmark } from "./bookmark";
import { openStore } from "./connection";
import { startDeadline, TIMED_OUT } from "./deadline";
import { startShardCall } from "./shard-call";
import { type Calls, watched } from "./watched";

/** An operator's read-only lasts as long as it lasts; a minute is a polite first retry. */
const READ_ONLY_RETRY_SECONDS = 60;

/** The shard the route's tenant is on, if the request may use it: the tenant ACTIVE, no write to a read-only shard. */
function usableShard(route: TenantRoute, write: boolean) {
  if (route.status !== "ACTIVE" || !route.shard) {
    throw new AppError("tenant-not-ready", `The tenant is ${route.status}`);
  }
  if (route.shard.status === "read-only" && write) {
    throw new AppError("shard-read-only", `Shard ${route.shard.id} is read-only; reads still work`, {
      headers: { "Retry-After": String(READ_ONLY_RETRY_SECONDS) },
      extensions: { retry_after: READ_ONLY_RETRY_SECONDS },
    });
  }
  return route.shard;
}

/**
 * Read-your-writes across requests (D1 read replicas): a request that sends back the bookmark of
 * an earlier response reads a copy at least that recent.
 */
function sentBookmark(c: Context<AppEnv>, tenantId: string, shardId: string) {
  const sent = c.req.header(BOOKMARK_HEADER);
  return sent === undefined ? null : openBookmark(c.env, tenantId, shardId, sent);
}

const unreachable = (shardId: string, cause: unknown) =>
  cause instanceof AppError
    ? cause
    : new AppError("shard-unavailable", `Shard ${shardId} could not be reached`, {
        headers: { "Retry-After": "1" },
        cause,
      });

/**
 * Opens the shard holding the route's tenant behind the tenant's circuit breaker: an open circuit
 * answers 503 at once; otherwise whether the shard's calls failed is recorded, and a request that
 * takes longer than SHARD_TIMEOUT_MS (connecting included) is answered with 503 and counted as
 * failed. `write` comes from the route's metadata (src/http/define-route.ts), as does the gate's
 * admission of a tenant key's write past a move's fence. Runs after tenantAccess.
 */
export const tenantShard = ({ write }: { write: boolean }) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const { tenantId } = c.var.route;
    const shard = usableShard(c.var.route, write);
    const bookmark = await sentBookmark(c, tenantId, shard.id);
    // Input is checked before the circuit is asked: a probe handed out must be reported.
    const call = await startShardCall(c, tenantId, shard.id, write);
    const timeoutMs = settings(c.env).shardTimeoutMs;
    const deadline = startDeadline(timeoutMs);
    const openedAt = performance.now();
    const opening = openStore(c.env, shard, { bookmark, write });
    // A PostgreSQL connection belongs to this request alone; close it once the work is done.
    const closeLater = () => c.executionCtx.waitUntil(opening.then((opened) => opened.close()).catch(() => undefined));
    let store: Awaited<typeof opening> | typeof TIMED_OUT;
    try {
      store = await deadline.race(opening);
    } catch (error) {
      deadline.clear();
      // A shard that cannot be reached counts in its metrics as a failed call.
      call.end(true, [{ name: "connect", ms: performance.now() - openedAt, failed: true }]);
      throw unreachable(shard.id, error);
    }
    const calls: Calls = { called: false, failed: false, timings: [] };
    let timedOut = store === TIMED_OUT;
    try {
      if (store !== TIMED_OUT) {
        c.set("shard", watched(store, calls));
        timedOut = (await deadline.race(next())) === TIMED_OUT;
        const reached = store.bookmark();
        if (reached !== null && !timedOut) {
          c.res.headers.set(BOOKMARK_HEADER, await sealBookmark(c.env, tenantId, shard.id, reached));
        }
      }
    } catch (error) {
      // Handlers' errors are answered inside next(); one that escapes still reports its calls.
      call.end(calls.called ? calls.failed : null, calls.timings);
      throw error;
    } finally {
      deadline.clear();
      closeLater();
    }
    if (timedOut) {
      call.end(true, calls.timings);
      c.res = problemResponse(
        c,
        new AppError("shard-unavailable", `The shard did not answer within ${timeoutMs} ms`, {
          headers: { "Retry-After": "1" },
        }),
      );
      return;
    }
    call.end(calls.called ? calls.failed : null, calls.timings);
  });
