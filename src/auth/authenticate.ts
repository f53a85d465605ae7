import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { errorText } from "../db/errors";
import type { AppEnv } from "../env";
import { gateOf } from "../gate/client";
import { rateLimitHeaders } from "../gate/headers";
import type { AdmitResult } from "../gate/protocol";
import { deferRelease, restoreReleases, takeReleases } from "../gate/releases";
import type { GateSession } from "../gate/session";
import { AppError, controlPlaneUnavailable } from "../http/problems";
import { routeMetaOf } from "../http/route-meta";
import { ALL_SCOPES } from "../keys/scopes";
import { digestsEqual, parseKey, sha256Hex } from "../keys/secret";
import { findKeyByPrefix, LAST_USED_RESOLUTION_MS, touchKey } from "../keys/service";
import { countRouteLookup, keyOwnerIndex, rememberRoute, routeCache } from "../routing/cache";
import type { TenantRoute } from "../routing/route";
import { failedAuthentication } from "./throttle";

export type AuthenticateOptions = {
  /** Where the key is read from; `Authorization: Bearer <key>` by default. */
  readKey?: (header: (name: string) => string | undefined) => string | undefined;
};

const bearer = (header: (name: string) => string | undefined) => {
  const value = header("Authorization");
  const match = value ? /^Bearer\s+(\S+)\s*$/i.exec(value) : null;
  return match?.[1];
};

const INVALID_TOKEN = 'Bearer realm="edge-tenancy", error="invalid_token"';
const invalidKey = () => new AppError("invalid-api-key", undefined, { headers: { "WWW-Authenticate": INVALID_TOKEN } });

async function lookUp(c: Context<AppEnv>, prefix: string) {
  try {
    return await findKeyByPrefix(c.var.db, prefix);
  } catch (cause) {
    throw controlPlaneUnavailable("The key could not be looked up", cause);
  }
}

/**
 * Resolves the API key to a Principal and, for a tenant's key, passes the request through the
 * tenant's gate (one Durable Object call that verifies the key and applies every limit).
 * Platform-admin keys are checked against the control database on every request.
 */
export const authenticate = (options: AuthenticateOptions = {}) => {
  const readKey = options.readKey ?? bearer;
  return createMiddleware<AppEnv>(async (c, next) => {
    if (routeMetaOf(c)?.ticket) return next();
    const presented = readKey((name) => c.req.header(name));
    if (!presented) {
      throw new AppError("unauthenticated", "Send an API key as `Authorization: Bearer <key>`", {
        headers: { "WWW-Authenticate": 'Bearer realm="edge-tenancy"' },
      });
    }
    const parsed = parseKey(presented);
    if (!parsed) throw await failedAuthentication(c, null, invalidKey());
    c.set("keyPrefix", parsed.prefix);
    const secretHash = sha256Hex(parsed.secret);
    const refused = () => failedAuthentication(c, parsed.prefix, invalidKey());

    // Which tenant a key belongs to never changes, so a warm isolate skips the control database.
    const owners = keyOwnerIndex();
    let owner = owners.get(parsed.prefix);
    let found: Awaited<ReturnType<typeof findKeyByPrefix>> | undefined;
    if (!owner) {
      found = await lookUp(c, parsed.prefix);
      if (!found) throw await refused();
      owner = { keyId: found.key.id, tenantId: found.key.tenantId };
      owners.set(parsed.prefix, owner);
    }
    c.set("keyTenantId", owner.tenantId);
    c.set("credential", presented);
    if (owner.tenantId !== null) {
      return admitThroughGate(c, next, {
        tenantId: owner.tenantId,
        keyId: owner.keyId,
        keyPrefix: parsed.prefix,
        secretHash,
        refused,
      });
    }

    found ??= await lookUp(c, parsed.prefix);
    if (!found || !digestsEqual(found.key.secretHash, secretHash)) throw await refused();
    const { key } = found;
    const now = Date.now();
    if (key.revokedAt !== null || (key.expiresAt !== null && key.expiresAt <= now)) throw await refused();
    c.set("principal", { kind: "platform_admin", keyId: key.id, keyPrefix: parsed.prefix, scopes: ALL_SCOPES });
    if (key.lastUsedAt === null || now - key.lastUsedAt >= LAST_USED_RESOLUTION_MS) {
      c.executionCtx.waitUntil(touchKey(c.var.db, key.id, now).catch(() => undefined));
    }
    await next();
  });
};

/** A tenant key's request: who it claims to be, and how to answer if the gate refuses the key. */
type TenantKeyClaim = {
  tenantId: string;
  keyId: string;
  keyPrefix: string;
  secretHash: string;
  refused: () => Promise<AppError>;
};

async function admitThroughGate(
  c: Context<AppEnv>,
  next: () => Promise<void>,
  { tenantId, keyId, keyPrefix, secretHash, refused }: TenantKeyClaim,
) {
  const gate = gateOf(c.env, tenantId);
  const routes = routeCache(c.env);
  const cached = routes.get(tenantId);
  let result: AdmitResult;
  const releases = takeReleases(tenantId);
  const write = routeMetaOf(c)?.shard === "write";
  const started = performance.now();
  try {
    result = (await gate.admit({
      tenantId,
      keyId,
      secretHash,
      knownVersion: cached?.route.version ?? null,
      releases,
      write,
    })) as AdmitResult;
  } catch (cause) {
    restoreReleases(tenantId, releases);
    throw controlPlaneUnavailable("The tenant's gate did not answer", cause);
  }
  // The gate call's own latency, for clients and for `npm run bench`.
  const timing = `gate;dur=${(performance.now() - started).toFixed(2)}`;
  if (!result.admitted) {
    if (result.problem === "invalid-api-key") throw await refused();
    const headers: Record<string, string> = { ...rateLimitHeaders(result.policies), "Server-Timing": timing };
    if (result.retryAfterSeconds !== null) headers["Retry-After"] = String(result.retryAfterSeconds);
    throw new AppError(result.problem, result.detail, {
      headers,
      extensions: {
        ...result.extensions,
        ...(result.retryAfterSeconds !== null ? { retry_after: result.retryAfterSeconds } : {}),
      },
    });
  }

  let route: TenantRoute;
  countRouteLookup(result.route === undefined);
  if (result.route) route = rememberRoute(routes, result.route);
  else if (cached) {
    // The gate confirmed the cached route; no need to re-insert it.
    cached.confirmedAt = Date.now();
    route = cached.route;
  } else throw new Error("The gate sent no route although this isolate holds none");
  const session: GateSession = {
    tenantId,
    route,
    leaseId: result.leaseId,
    write,
    policies: result.policies,
    circuits: result.circuits,
    outcomes: [],
  };
  c.set("principal", {
    kind: "tenant",
    keyId,
    keyPrefix,
    tenantId,
    userId: result.principal.userId,
    scopes: result.principal.scopes,
  });
  c.set("gate", session);
  try {
    await next();
  } finally {
    for (const [name, value] of Object.entries(rateLimitHeaders(session.policies))) c.res.headers.set(name, value);
    c.res.headers.append("Server-Timing", timing);
    // The slot goes back once the response is complete, usually with the tenant's next admit from
    // this isolate; a lost release expires with its lease.
    c.executionCtx.waitUntil(
      deferRelease(tenantId, { leaseId: session.leaseId, outcomes: session.outcomes }, (due) =>
        gate.release(due),
      ).catch((error: unknown) => {
        console.warn(
          JSON.stringify({ level: "warn", msg: "gate release failed", tenant_id: tenantId, error: errorText(error) }),
        );
      }),
    );
  }
}
