import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { matchedRoutes } from "hono/route";
import { errorText } from "../db/errors";
import type { AppEnv } from "../env";
import { gateOf } from "../gate/client";
import type { RequestSample } from "../gate/protocol";
import { deferRelease } from "../gate/releases";
import { AppError, type ProblemType } from "../http/problems";
import { analyticsPoint } from "./analytics";
import type { GateDecision } from "./cell";
import { observabilityOn } from "./switch";

/** Paths that are never a tenant's traffic, whoever calls them. */
const EXCLUDED = ["/health", "/metrics", "/docs", "/openapi.json"];
const excluded = (path: string) => EXCLUDED.some((prefix) => path === prefix || path.startsWith(`${prefix}/`));

/** The matched route's template (`/v1/tenants/:tenantId/entries/:entryId`); `unmatched` for a 404 of no route. */
export function routeTemplate(c: Context): string {
  const routes = matchedRoutes(c);
  for (let i = routes.length - 1; i >= 0; i--) {
    const route = routes[i];
    // Middleware is registered for ALL methods; a route's handler for its own.
    if (route && route.method !== "ALL") return route.path;
  }
  return "unmatched";
}

const REFUSALS: Partial<Record<ProblemType, GateDecision>> = {
  "rate-limited": "rate_limited",
  "quota-exhausted": "quota_exhausted",
  "concurrency-limit": "concurrency_limited",
};

/** What the gate (and the shard's circuit) made of a tenant key's request. */
function decisionOf(c: Context<AppEnv>): GateDecision {
  const type = c.error instanceof AppError ? c.error.type : null;
  if (c.var.gate) return type === "circuit-open" ? "circuit_open" : "admitted";
  return (type && REFUSALS[type]) || "refused";
}

/** Bodies the handlers build whole in memory (JSON answers and problems), read whole at once. */
const BUFFERED = /^application\/(?:problem\+)?json\b/;

/**
 * Counts the body's bytes; `done` gets the total. The response's own Content-Length, when it has
 * one, saves the work; a JSON body is already whole in memory, so it is read at once and answered
 * with its length (a JavaScript stream in front of it cost a request about 1 ms in `npm run
 * bench`); any other body (an audit export's stream) is counted as it is sent, `done` getting the
 * total once it ends or the client goes.
 */
async function countedBody(res: Response, done: (bytes: number) => void): Promise<Response> {
  const length = res.headers.get("Content-Length");
  if (res.body === null || length !== null) {
    done(length === null ? 0 : Number(length));
    return res;
  }
  if (BUFFERED.test(res.headers.get("Content-Type") ?? "")) {
    const bytes = await res.arrayBuffer();
    done(bytes.byteLength);
    return new Response(bytes, res);
  }
  const reader = res.body.getReader();
  let bytes = 0;
  let finished = false;
  const finish = () => {
    if (!finished) done(bytes);
    finished = true;
  };
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done: ended, value } = await reader.read();
        if (ended) {
          controller.close();
          finish();
        } else {
          bytes += value.byteLength;
          controller.enqueue(value);
        }
      } catch (error) {
        finish();
        controller.error(error);
      }
    },
    cancel(reason) {
      finish();
      return reader.cancel(reason);
    },
  });
  return new Response(body, res);
}

/**
 * Records each request of a tenant key (admitted or refused) in its tenant's metrics: the sample
 * rides to the tenant's gate with the releases (src/gate/releases.ts), which aggregates it
 * (src/metrics/recorder.ts): no database write per request. Platform-admin requests are not a
 * tenant's traffic; EXCLUDED paths never are. With an Analytics Engine binding (METRICS_AE), each
 * request also writes one data point (src/metrics/analytics.ts).
 */
export const requestMetrics = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    if (!observabilityOn(c.env)) return next();
    const started = performance.now();
    await next();
    const tenantId = c.var.keyTenantId;
    if (!tenantId || excluded(c.req.path)) return;
    const sample: RequestSample = {
      method: c.req.method,
      route: routeTemplate(c),
      status: c.res.status,
      ms: Math.round((performance.now() - started) * 100) / 100,
      bytes: 0,
      decision: decisionOf(c),
      ...(c.var.written ? { written: c.var.written } : {}),
    };
    const tier = c.var.gate?.route.tier ?? null;
    const env = c.env;
    let sent!: (bytes: number) => void;
    const bytes = new Promise<number>((resolve) => {
      sent = resolve;
    });
    c.res = await countedBody(c.res, sent);
    // Registered now, while the request is running; it settles once the body has gone.
    c.executionCtx.waitUntil(
      bytes
        .then((total) => {
          const finished = { ...sample, bytes: total };
          env.METRICS_AE?.writeDataPoint(analyticsPoint(tenantId, tier, finished));
          return deferRelease(tenantId, { leaseId: null, outcomes: [], sample: finished }, (due) =>
            gateOf(env, tenantId).release(due),
          );
        })
        .catch((error: unknown) => {
          console.warn(
            JSON.stringify({ level: "warn", msg: "metrics sample lost", tenant_id: tenantId, error: errorText(error) }),
          );
        }),
    );
  });
