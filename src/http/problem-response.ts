import type { Context } from "hono";
import type { AppEnv } from "../env";
import { type AppError, PROBLEMS, type ProblemType } from "./problems";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";

/** The `type` URI of a problem slug, under the deployment's PROBLEM_BASE_URL. */
export function problemTypeUri(base: string | undefined, type: ProblemType): string {
  return `${(base ?? "https://edge-tenancy.dev/problems").replace(/\/$/, "")}/${type}`;
}

/** Renders an AppError as an RFC 9457 problem document carrying the request id. */
export function problemResponse(c: Context<AppEnv>, error: AppError): Response {
  const requestId = c.get("requestId");
  const body = {
    type: problemTypeUri(c.env?.PROBLEM_BASE_URL, error.type),
    title: PROBLEMS[error.type].title,
    status: error.status,
    detail: error.detail,
    instance: new URL(c.req.url).pathname,
    request_id: requestId,
    ...error.extensions,
  };
  const headers = new Headers(error.headers);
  headers.set("Content-Type", PROBLEM_CONTENT_TYPE);
  if (requestId) headers.set("X-Request-Id", requestId);
  return new Response(JSON.stringify(body), { status: error.status, headers });
}
