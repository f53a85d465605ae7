import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { routePath } from "hono/route";
import { LRUCache } from "lru-cache";
import { type Actor, actorOf } from "../auth/actor";
import { errorText } from "../db/errors";
import type { AppEnv } from "../env";
import { nudgeRelay } from "../events/nudge";
import { problemResponse } from "../http/problem-response";
import { AppError, type ProblemType } from "../http/problems";
import { routeMetaOf } from "../http/route-meta";
import { recordThroughOutbox } from "./outbox";
import { recordPlatform } from "./platform";
import type { AuditTarget, NewAuditRecord } from "./record";
import { auditContextOf, trailOn } from "./request";
import { PlatformSampler } from "./sampler";

// The audit record of every request that changes or tries to change something (succeeded or
// refused), and of every authentication or authorisation failure. Written before the response
// leaves, so an acknowledged request always has its record: entry writes commit theirs with the
// change (src/audit/request.ts); the rest go to the control database's outbox here, which the
// relay appends to the tenant's trail in its shard. What names no tenant goes to the platform's trail.

/** The refusals that are about who the caller is or what it may do. */
const AUTHORIZATION: ReadonlySet<ProblemType> = new Set(["insufficient-scope", "forbidden", "tenant-suspended"]);

const MUTATING = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Path parameters naming what a request acts on, and the target type each names. */
const TARGET_PARAMS: Record<string, string> = {
  tenantId: "tenant",
  entryId: "entry",
  userId: "user",
  keyId: "key",
  moveId: "move",
  shardId: "shard",
  flagKey: "flag",
  endpointId: "webhook",
  messageId: "webhook_message",
};

/**
 * One isolate's allowance of records for refused keys, per trail (the platform's for unknown keys,
 * a tenant's for its keys' prefixes with a wrong secret): a flood is sampled, not written.
 */
const refusedKeys = new LRUCache<string, PlatformSampler>({ max: 10_000 });
const samplerOf = (trail: string) => {
  let sampler = refusedKeys.get(trail);
  if (!sampler) {
    sampler = new PlatformSampler(20, 60_000);
    refusedKeys.set(trail, sampler);
  }
  return sampler;
};

function actionOf(c: Context<AppEnv>): string | null {
  const status = c.res.status;
  const problem = c.error instanceof AppError ? c.error.type : null;
  if (status === 401) return "auth.failed";
  if (status === 403 && problem !== null && AUTHORIZATION.has(problem)) return "auth.denied";
  if (!MUTATING.has(c.req.method)) return null;
  return routeMetaOf(c)?.audit ?? null;
}

function targetsOf(c: Context<AppEnv>, action: string): AuditTarget[] {
  const targets: AuditTarget[] = [];
  // After the handler ran, these are its route's parameters.
  for (const [param, type] of Object.entries(TARGET_PARAMS)) {
    const id = c.req.param(param);
    if (id) targets.push({ type, id });
  }
  // What a request created is named by its Location.
  const created = c.res.status === 201 ? c.res.headers.get("Location")?.split("/").at(-1) : undefined;
  const [subject] = action.split(".");
  if (created && subject && !targets.some((t) => t.id === created)) targets.push({ type: subject, id: created });
  if (action.startsWith("auth.")) targets.push({ type: "route", id: `${c.req.method} ${routePath(c, -1)}` });
  return targets;
}

/** Who made the request: the authenticated principal, or as much as a refused key told. */
function requestActor(c: Context<AppEnv>): Actor {
  const principal = c.var.principal;
  if (principal) return actorOf(principal);
  return { type: "api_key", id: null, key_prefix: c.var.keyPrefix ?? null };
}

/** The tenant whose trail the record belongs on, or null for the platform's. */
function trailOf(c: Context<AppEnv>): string | null {
  const principal = c.var.principal;
  if (principal?.kind === "tenant") return principal.tenantId;
  if (principal?.kind === "platform_admin") return c.var.route?.tenantId ?? null;
  return c.var.keyTenantId ?? null;
}

async function write(c: Context<AppEnv>, tenantId: string | null, record: NewAuditRecord, now: number) {
  if (tenantId === null) {
    await recordPlatform(c.var.db, record, now);
    c.executionCtx.waitUntil(nudgeRelay(c.env, c.var.db, null));
  } else {
    await recordThroughOutbox(c.var.db, tenantId, record, now);
  }
  // The trail's tenant, and a tenant the request created (it has its own events in the outbox).
  // A refused key's request nudges nothing but its trail: anyone can send one.
  const tenants = new Set<string>(tenantId === null ? [] : [tenantId]);
  const created = c.res.status === 201 ? record.targets.find((t) => t.type === "tenant")?.id : undefined;
  if (c.var.principal && created) tenants.add(created);
  for (const tenant of tenants) c.executionCtx.waitUntil(nudgeRelay(c.env, c.var.db, tenant));
}

export const auditTrail = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    await next();
    if (!trailOn(c.env)) return;
    const action = actionOf(c);
    if (action === null) return;
    const tenantId = trailOf(c);
    // The change committed its own record; the relay still has its event to publish.
    if (c.var.auditedWith === c.res.status && !c.error) {
      if (tenantId !== null) c.executionCtx.waitUntil(nudgeRelay(c.env, c.var.db, tenantId));
      return;
    }
    const replayed = c.res.headers.get("Idempotent-Replayed") === "true";
    const record: NewAuditRecord = {
      action,
      actor: requestActor(c),
      targets: targetsOf(c, action),
      context: { ...auditContextOf(c), ...(replayed ? { replayed: true as const } : {}) },
      status: c.res.status,
    };
    // No principal: the key was refused (401, or 429 once its failures are throttled).
    if (!c.var.principal) {
      const allowance = samplerOf(tenantId ?? "").take(Date.now());
      if (!allowance.record) return;
      if (allowance.suppressed > 0) record.context = { ...record.context, suppressed: allowance.suppressed };
    }
    try {
      await write(c, tenantId, record, Date.now());
    } catch (error) {
      console.error(
        JSON.stringify({
          level: "error",
          msg: "audit record not written",
          action,
          status: c.res.status,
          error: errorText(error),
        }),
      );
      // A change must not be acknowledged without its record; a refusal stays what it was.
      if (c.res.status < 400) c.res = problemResponse(c, new AppError("audit-unavailable"));
    }
  });
