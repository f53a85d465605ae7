import { Buffer } from "node:buffer";
import { z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../env";
import { errorResponses } from "../http/api";
import { defineRoute } from "../http/define-route";
import { json } from "../http/openapi-helpers";
import { AppError } from "../http/problems";
import { createRouter } from "../http/router";
import { settings } from "../settings";
import { EvaluationContextSchema } from "./api";
import type { Evaluation } from "./service";
import { evaluateFlags } from "./service";

// The OpenFeature Remote Evaluation Protocol: the standard OFREP providers of the OpenFeature SDKs
// evaluate against these with a tenant key as their bearer token, so an application needs no client
// of ours. Evaluation failures answer in OFREP's shapes (the protocol's, not problem+json); a
// refused key still gets this API's problem+json 401/403/429.

const tags = ["OpenFeature (OFREP)"];
const meta = { scope: "entries:read", readOnly: true } as const;

const Success = z
  .object({
    key: z.string(),
    value: z.unknown(),
    reason: z.string(),
    variant: z.string().optional(),
    metadata: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  })
  .openapi("OfrepEvaluationSuccess");
const Failure = z
  .object({ key: z.string().optional(), errorCode: z.string(), errorDetails: z.string().optional() })
  .openapi("OfrepEvaluationFailure");
const Body = z.object({ context: EvaluationContextSchema.optional() }).passthrough();

/** OFREP evaluates for one tenant: the caller's key's. */
function tenantOf(c: Context<AppEnv>) {
  const route = c.var.gate?.route;
  if (c.var.principal.kind !== "tenant" || !route) {
    throw new AppError("forbidden", "OFREP evaluates a tenant's flags: use one of the tenant's keys");
  }
  return route;
}

/** The request's context, or the OFREP answer refusing it (INVALID_CONTEXT / PARSE_ERROR). */
async function contextOf(
  c: Context<AppEnv>,
): Promise<Record<string, unknown> | { errorCode: string; errorDetails: string }> {
  let body: unknown;
  try {
    const text = await c.req.text();
    body = text.trim() === "" ? {} : JSON.parse(text);
  } catch {
    return { errorCode: "PARSE_ERROR", errorDetails: "The body is not JSON" };
  }
  const parsed = Body.safeParse(body);
  if (!parsed.success)
    return { errorCode: "INVALID_CONTEXT", errorDetails: parsed.error.issues[0]?.message ?? "invalid" };
  return parsed.data.context ?? {};
}

const failed = (context: object): context is { errorCode: string; errorDetails: string } => "errorCode" in context;

const successOf = (evaluation: Evaluation) => ({
  key: evaluation.key,
  value: evaluation.value,
  reason: evaluation.reason,
  ...(evaluation.variant !== undefined ? { variant: evaluation.variant } : {}),
  metadata: evaluation.flagMetadata,
});

/** An evaluation in OFREP's form: a success, or a failure with its code. */
const ofrepOf = (evaluation: Evaluation) =>
  evaluation.errorCode
    ? { key: evaluation.key, errorCode: evaluation.errorCode, errorDetails: evaluation.errorMessage }
    : successOf(evaluation);

/** A strong ETag of the bulk answer's bytes: a provider polling with If-None-Match gets 304 until a result changes. */
async function etagOf(body: string) {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body));
  return `"${Buffer.from(digest).subarray(0, 16).toString("base64url")}"`;
}

const matchesEtag = (header: string | undefined, etag: string) =>
  header?.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag || tag.trim() === "*") === true;

/** Mounted at /ofrep/v1. */
export const ofrepRoutes = createRouter()
  .openapi(
    defineRoute({
      method: "post",
      path: "/evaluate/flags/{key}",
      tags,
      summary: "OFREP: evaluate one flag",
      meta,
      request: { params: z.object({ key: z.string().min(1).max(200) }) },
      responses: {
        ...errorResponses,
        200: { description: "Evaluated", ...json(Success) },
        400: { description: "Bad context, or a targeting key missing", ...json(Failure) },
        404: { description: "No such flag", ...json(Failure) },
      },
    }),
    async (c) => {
      const route = tenantOf(c);
      const { key } = c.req.valid("param");
      const context = await contextOf(c);
      if (failed(context)) return c.json({ key, ...context }, 400);
      const evaluations = await evaluateFlags(c.env, c.var.db, route, [key], context);
      const evaluation = evaluations[0] as Evaluation;
      const { errorCode, errorMessage } = evaluation;
      if (errorCode === "FLAG_NOT_FOUND") return c.json({ key, errorCode, errorDetails: errorMessage }, 404);
      if (errorCode) return c.json({ key, errorCode, errorDetails: errorMessage }, 400);
      return c.json(successOf(evaluation), 200);
    },
  )
  .openapi(
    defineRoute({
      method: "post",
      path: "/evaluate/flags",
      tags,
      summary: "OFREP: evaluate every flag (ETag and If-None-Match: 304 while nothing changed)",
      meta,
      request: { headers: z.object({ "if-none-match": z.string().max(1000).optional() }) },
      responses: {
        ...errorResponses,
        200: { description: "Every flag", ...json(z.object({ flags: z.array(z.union([Success, Failure])) })) },
        304: { description: "Not modified" },
        400: { description: "Bad context", ...json(Failure) },
      },
    }),
    async (c) => {
      const route = tenantOf(c);
      const context = await contextOf(c);
      if (failed(context)) return c.json(context, 400);
      const evaluations = await evaluateFlags(c.env, c.var.db, route, "all", context);
      const body = JSON.stringify({ flags: evaluations.map(ofrepOf) });
      const etag = await etagOf(body);
      c.header("ETag", etag);
      if (matchesEtag(c.req.valid("header")["if-none-match"], etag)) return c.body(null, 304);
      return c.body(body, 200, { "Content-Type": "application/json" });
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/configuration",
      tags,
      summary: "OFREP: what this flag system supports",
      meta: { scope: "entries:read" },
      responses: { 200: { description: "The configuration", ...json(z.object({}).passthrough()) }, ...errorResponses },
    }),
    async (c) =>
      c.json(
        {
          name: "edge-tenancy",
          capabilities: {
            cacheInvalidation: {
              polling: { enabled: true, minPollingIntervalMs: settings(c.env).gateMaxStalenessMs },
            },
            flagEvaluation: { supportedTypes: ["boolean", "string", "int", "float", "object"] },
          },
        },
        200,
      ),
  );
