import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { gateOf } from "../gate/client";
import type { Outcome, PermitResult, WriteResult } from "../gate/protocol";
import { problemResponse } from "../http/problem-response";
import { AppError, controlPlaneUnavailable } from "../http/problems";
import { routeCache } from "../routing/cache";
import { settings } from "../settings";
import { BOOKMARK_HEADER, openBookmark, sealBookmark } from "./bookmark";
import { openStore } from "./connection";
import { startDeadline, TIMED_OUT } from "./deadline";
import type { ShardStore } from "./store";

/** An operator's read-only lasts as long as it lasts; a minute is a polite first retry. */
const READ_ONLY_RETRY_SECONDS = 60;

const circuitOpen = (retryAfterMs: number) => {
  const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
  return new AppError("circuit-open", "Calls to the tenant's shard are failing; they resume after the pause", {
    headers: { "Retry-After": String(seconds) },
    extensions: { dependency: "shard", retry_after: seconds },
  });
};

/** Did the shard fail, as opposed to answering with a domain outcome (404, 409, 412, quota…)? */
const shardFailed = (error: unknown) => !(error instanceof AppError) || error.type === "shard-unavailable";

/**
 * The store as the handler sees it, noting whether the shard was called and whether a call
 * failed. Only the shard's own calls count for its circuit: a request refused before it asked
 * the shard (a body the validator refuses, say) counts neither as a failure nor as a success.
 */
function watched(store: ShardStore, seen: { called: boolean; failed: boolean }): ShardStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      const member = Reflect.get(target, property, receiver);
      if (typeof member !== "function") return member;
      return (...args: unknown[]) => {
        const result = member.apply(target, args);
        if (!(result instanceof Promise)) return result;
        seen.called = true;
        return result.catch((error: unknown) => {
          if (shardFailed(error)) seen.failed = true;
          throw error;
        });
      };
    },
  });
}

/**
 * Asks the tenant's circuit whether the shard may be called. A tenant key's admission already
 * carries the circuit's state, so only a half-open circuit (handing out probes) costs a call;
 * platform-admin requests, which skip the gate, always ask.
 */
async function permitShard(c: Context<AppEnv>, tenantId: string): Promise<PermitResult> {
  const known = c.var.gate?.circuits.shard;
  if (c.var.gate && !known) return { permitted: true, probe: null };
  if (known?.state === "open") return { permitted: false, retryAfterMs: known.retryAfterMs };
  return gateOf(c.env, tenantId).permit("shard");
}

/**
 * A platform admin's write passes the tenant's gate here (a tenant key's did in `admit`), so a
 * move's fence holds it back too; its lease goes back with the outcome (see report).
 */
async function admitAdminWrite(c: Context<AppEnv>, tenantId: string, shardId: string): Promise<string> {
  let result: WriteResult;
  try {
    result = (await gateOf(c.env, tenantId).admitWrite(tenantId, shardId)) as WriteResult;
  } catch (cause) {
    throw controlPlaneUnavailable("The tenant's gate did not answer", cause);
  }
  if (result.admitted) return result.leaseId;
  // The route this isolate holds may name the shard the tenant just left.
  routeCache(c.env).delete(tenantId);
  const seconds = result.retryAfterSeconds ?? 1;
  throw new AppError(result.problem, result.detail, {
    headers: { "Retry-After": String(seconds) },
    extensions: { retry_after: seconds },
  });
}

function report(c: Context<AppEnv>, tenantId: string, adminLease: string | null, outcomes: Outcome[]) {
  const gate = c.var.gate;
  // A tenant key's outcome rides on its release; an admin's goes on its own.
  if (gate) gate.outcomes.push(...outcomes);
  else {
    const stub = gateOf(c.env, tenantId);
    c.executionCtx.waitUntil(
      (adminLease ? stub.releaseWrite(adminLease, outcomes) : stub.record(outcomes)).catch(() => undefined),
    );
  }
}

/**
 * Opens the shard holding the route's tenant (which must be ACTIVE) behind the tenant's circuit
 * breaker: an open circuit answers 503 at once; otherwise whether the shard's calls failed is
 * recorded, and a handler that takes longer than SHARD_TIMEOUT_MS is answered with 503 and
 * counted as failed. `write` comes from the route's metadata (src/http/define-route.ts), as does
 * the gate's admission of a tenant key's write past a move's fence.
 * Runs after tenantAccess.
 */
export const tenantShard = ({ write }: { write: boolean }) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const route = c.var.route;
    if (route.status !== "ACTIVE" || !route.shard) {
      throw new AppError("tenant-not-ready", `The tenant is ${route.status}`);
    }
    if (route.shard.status === "read-only" && write) {
      throw new AppError("shard-read-only", `Shard ${route.shard.id} is read-only; reads still work`, {
        headers: { "Retry-After": String(READ_ONLY_RETRY_SECONDS) },
        extensions: { retry_after: READ_ONLY_RETRY_SECONDS },
      });
    }
    // Read-your-writes across requests (D1 read replicas): a request that sends back the bookmark
    // of an earlier response reads a copy at least that recent.
    const sent = c.req.header(BOOKMARK_HEADER);
    const bookmark = sent === undefined ? null : await openBookmark(c.env, route.tenantId, route.shard.id, sent);
    const adminLease = write && !c.var.gate ? await admitAdminWrite(c, route.tenantId, route.shard.id) : null;
    // Input is checked before asking the circuit: a probe handed out must be reported.
    let permit: PermitResult;
    try {
      permit = await permitShard(c, route.tenantId);
    } catch (error) {
      report(c, route.tenantId, adminLease, []);
      throw error;
    }
    if (!permit.permitted) {
      report(c, route.tenantId, adminLease, []);
      throw circuitOpen(permit.retryAfterMs);
    }
    const outcome = (failed: boolean | null): Outcome[] => [{ dependency: "shard", failed, probe: permit.probe }];

    // The deadline covers connecting too (a PostgreSQL connect can hang as long as a query).
    const timeoutMs = settings(c.env).shardTimeoutMs;
    const deadline = startDeadline(timeoutMs);
    const opening = openStore(c.env, route.shard, { bookmark, write });
    let opened: ShardStore | typeof TIMED_OUT;
    try {
      opened = await deadline.race(opening);
    } catch (error) {
      deadline.clear();
      report(c, route.tenantId, adminLease, outcome(true));
      if (error instanceof AppError) throw error;
      throw new AppError("shard-unavailable", `Shard ${route.shard.id} could not be reached`, {
        headers: { "Retry-After": "1" },
        cause: error,
      });
    }
    // A PostgreSQL connection belongs to this request alone; close it once the work is done.
    const closeLater = () => c.executionCtx.waitUntil(opening.then((store) => store.close()).catch(() => undefined));
    let timedOut = true;
    const seen = { called: false, failed: false };
    if (opened !== TIMED_OUT) {
      const store = opened;
      c.set("shard", watched(store, seen));
      timedOut = (await deadline.race(next())) === TIMED_OUT;
      const reached = store.bookmark();
      if (reached !== null && !timedOut) {
        c.res.headers.set(BOOKMARK_HEADER, await sealBookmark(c.env, route.tenantId, route.shard.id, reached));
      }
    }
    deadline.clear();
    closeLater();
    if (timedOut) {
      report(c, route.tenantId, adminLease, outcome(true));
      c.res = problemResponse(
        c,
        new AppError("shard-unavailable", `The shard did not answer within ${timeoutMs} ms`, {
          headers: { "Retry-After": "1" },
        }),
      );
      return;
    }
    report(c, route.tenantId, adminLease, outcome(seen.called ? seen.failed : null));
  });
