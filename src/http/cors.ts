import { cors } from "hono/cors";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";

/** CORS from the CORS_ORIGINS variable: "*" or a comma-separated list of exact origins. */
export const configurableCors = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    const configured = (c.env.CORS_ORIGINS ?? "").trim();
    const allowed =
      configured === "*"
        ? "*"
        : configured
            .split(",")
            .map((o) => o.trim())
            .filter(Boolean);
    return cors({
      origin: allowed === "*" ? "*" : (origin) => (allowed.includes(origin) ? origin : null),
      allowHeaders: [
        "Authorization",
        "Content-Type",
        "Idempotency-Key",
        "If-Match",
        "If-None-Match",
        "X-Request-Id",
        "X-Shard-Bookmark",
      ],
      allowMethods: ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
      exposeHeaders: [
        "ETag",
        "Location",
        "X-Request-Id",
        "Idempotent-Replayed",
        "Retry-After",
        "RateLimit-Policy",
        "RateLimit",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "X-Shard-Bookmark",
      ],
      maxAge: 600,
    })(c, next);
  });
