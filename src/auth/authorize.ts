import { createMiddleware } from "hono/factory";
import { controlDb } from "../db/client";
import type { AppEnv } from "../env";
import { AppError, notFound } from "../http/problems";
import type { Scope } from "../keys/scopes";
import { getTenant } from "../tenants/service";

/** Requires a platform-admin key. */
export const requirePlatformAdmin = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    if (c.var.principal.kind !== "platform_admin") {
      throw new AppError("forbidden", "This operation needs a platform-admin key");
    }
    await next();
  });

/**
 * Loads the tenant named by `:tenantId` into `c.var.tenant`. A tenant key naming any other tenant
 * gets the same 404 as a tenant that does not exist, so ids of other tenants cannot be probed.
 */
export const tenantAccess = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    const tenantId = c.req.param("tenantId") ?? "";
    const principal = c.var.principal;
    if (principal.kind === "tenant" && principal.tenantId !== tenantId) throw notFound("Tenant");
    c.set("tenant", await getTenant(controlDb(c.env), tenantId));
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
