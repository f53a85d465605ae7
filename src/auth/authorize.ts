import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { AppError, notFound } from "../http/problems";
import type { Scope } from "../keys/scopes";
import { tenantDeleted } from "../lifecycle/deletion";
import { resolveRoute } from "../routing/resolve";

/** Requires a platform-admin key. */
export const requirePlatformAdmin = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    if (c.var.principal.kind !== "platform_admin") {
      throw new AppError("forbidden", "This operation needs a platform-admin key");
    }
    await next();
  });

/**
 * Sets `c.var.route` for the tenant named by `:tenantId`. A tenant key naming any other tenant
 * gets the same 404 as a tenant that does not exist, so ids of other tenants cannot be probed.
 * A tenant key's own route comes from its gate, so its requests need no control-database read.
 * A soft-deleted tenant is 410 to a platform admin (its keys are refused by its gate), unless
 * the route serves deleted tenants. An ARCHIVED or RESTORING tenant is 409 to both, unless the
 * route serves those (rehydrate, restores).
 */
export const tenantAccess = (options: { deleted: boolean; dormant: boolean } = { deleted: false, dormant: false }) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const tenantId = c.req.param("tenantId") ?? "";
    const principal = c.var.principal;
    if (principal.kind === "tenant") {
      const gate = c.var.gate;
      if (principal.tenantId !== tenantId || !gate) throw notFound("Tenant");
      c.set("route", gate.route);
    } else {
      const route = await resolveRoute(c.env, tenantId);
      if (!route) throw notFound("Tenant");
      if (route.status === "DELETED" && !options.deleted) throw await tenantDeleted(c.var.db, tenantId);
      c.set("route", route);
    }
    const status = c.var.route.status;
    if (!options.dormant && status === "ARCHIVED") {
      throw new AppError("tenant-archived", undefined, {
        extensions: { rehydrate: { method: "POST", path: `/v1/tenants/${tenantId}/rehydrate` } },
      });
    }
    if (!options.dormant && status === "RESTORING") throw new AppError("tenant-restoring");
    await next();
  });

/** Requires every listed scope; platform-admin keys hold them all. */
export const requireScope = (...needed: Scope[]) =>
  createMiddleware<AppEnv>(async (c, next) => {
    const held = c.var.principal.scopes;
    const missing = needed.filter((scope) => !held.includes(scope));
    if (missing.length > 0) {
      throw new AppError("insufficient-scope", `This operation needs the scope(s): ${missing.join(", ")}`, {
        extensions: { required_scopes: needed },
      });
    }
    await next();
  });
