import type { Context } from "hono";
import { actorOf } from "../auth/actor";
import type { AppEnv } from "../env";
import type { Change } from "../events/change";
import { routeMetaOf } from "../http/route-meta";
import type { AuditContext } from "./record";

/**
 * AUDIT_TRAIL = "off" exists for `npm run bench` alone, which measures what the trail costs a
 * write against a Worker without it: entry writes then commit no event and no audit record, and
 * requests leave no audit record. Never deploy with it off.
 */
export const trailOn = (env: { AUDIT_TRAIL?: string }) => env.AUDIT_TRAIL !== "off";

/** A user agent is kept to this many characters: enough to tell clients apart, not a payload. */
const USER_AGENT_CHARS = 256;

/** Where the request came from, as Cloudflare reports it (CF-Connecting-IP, its `cf.country`). */
export function auditContextOf(c: Context<AppEnv>): AuditContext {
  const cf = c.req.raw.cf as { country?: string } | undefined;
  return {
    ip: c.req.header("CF-Connecting-IP") ?? null,
    user_agent: c.req.header("User-Agent")?.slice(0, USER_AGENT_CHARS) ?? null,
    country: cf?.country ?? c.req.header("CF-IPCountry") ?? null,
    request_id: c.var.requestId ?? null,
  };
}

/**
 * The change an authenticated request makes. Given the status the request answers with once the
 * change is made, the change also carries the request's audit record (the route's audit action),
 * and the shard commits it with the change: the audit middleware then has nothing left to write.
 */
export function changeOf(c: Context<AppEnv>, status?: number): Change {
  const change: Change = { requestId: c.var.requestId, actor: actorOf(c.var.principal) };
  if (!trailOn(c.env)) return { ...change, untracked: true };
  const action = routeMetaOf(c)?.audit;
  if (status === undefined || action === undefined) return change;
  c.set("auditedWith", status);
  return { ...change, audit: { action, status, context: auditContextOf(c) } };
}
