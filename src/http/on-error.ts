import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import type { AppEnv } from "../env";
import { problemResponse } from "./problem-response";
import { AppError, type ProblemType } from "./problems";

function fromHttpException(error: HTTPException): AppError {
  const byStatus: Record<number, ProblemType> = {
    401: "unauthenticated",
    403: "forbidden",
    404: "not-found",
    413: "payload-too-large",
    415: "unsupported-media-type",
  };
  if (error.status === 400) {
    return /json/i.test(error.message)
      ? new AppError("malformed-json", "The request body could not be parsed as JSON")
      : new AppError("validation-error", error.message);
  }
  return new AppError(byStatus[error.status] ?? "internal-error");
}

/** The one place errors become responses: RFC 9457 problem+json, internals never leaked. */
export function onError(error: Error, c: Context<AppEnv>): Response {
  if (error instanceof AppError) return problemResponse(c, error);
  if (error instanceof HTTPException) return problemResponse(c, fromHttpException(error));
  // Message and stack only: request headers (and so API keys) are never logged.
  console.error(
    JSON.stringify({
      level: "error",
      request_id: c.get("requestId"),
      method: c.req.method,
      path: new URL(c.req.url).pathname,
      // drizzle appends the bound parameters (tenant data) after "params:"; keep only the query.
      error: error.message.split("\nparams:")[0],
      stack: error.stack,
    }),
  );
  return problemResponse(c, new AppError("internal-error"));
}
