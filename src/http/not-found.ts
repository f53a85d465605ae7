import type { Context, Hono } from "hono";
import type { AppEnv } from "../env";
import { problemResponse } from "./problem-response";
import { AppError } from "./problems";

type RouteTable = { method: string; pattern: RegExp }[];

function compile(path: string): RegExp {
  const source = path
    .split("/")
    .map((segment) => {
      if (segment === "*") return ".*";
      if (segment.startsWith(":")) return "[^/]+";
      return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
    })
    .join("/");
  // Exact, like the router: `/docs/` is a 404, not a 405 that lists GET.
  return new RegExp(`^${source}$`);
}

/**
 * Unmatched requests: 405 with `Allow` when the path exists under other methods, else 404.
 * The route table is read lazily so that it includes every route mounted on the app.
 */
export function notFoundHandler(app: Hono<AppEnv>) {
  let table: RouteTable | undefined;
  return (c: Context<AppEnv>) => {
    table ??= app.routes
      .filter((route) => route.method !== "ALL")
      .map((route) => ({ method: route.method, pattern: compile(route.path) }));
    const path = new URL(c.req.url).pathname;
    const allowed = [...new Set(table.filter((r) => r.pattern.test(path)).map((r) => r.method))];
    if (allowed.length === 0) return problemResponse(c, new AppError("not-found", `No route matches ${path}`));
    if (allowed.includes("GET") && !allowed.includes("HEAD")) allowed.push("HEAD");
    return problemResponse(
      c,
      new AppError("method-not-allowed", `${c.req.method} is not allowed on ${path}`, {
        headers: { Allow: allowed.join(", ") },
      }),
    );
  };
}
