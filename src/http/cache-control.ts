import { createMiddleware } from "hono/factory";

/**
 * Nothing is cacheable unless its route says so: a response without Cache-Control gets
 * `no-store` (tenant data, keys, errors alike). Authenticated responses also vary by the key
 * that asked, so no cache could hand one caller's answer to another.
 */
export const cacheControl = () =>
  createMiddleware(async (c, next) => {
    await next();
    if (!c.res.headers.has("Cache-Control")) c.res.headers.set("Cache-Control", "no-store");
    if (c.req.path === "/v1" || c.req.path.startsWith("/v1/")) c.res.headers.append("Vary", "Authorization");
  });
