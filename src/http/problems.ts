import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * The closed set of problem types this API answers with. The slug is the last segment of the
 * problem's `type` URI and never changes once published.
 */
export const PROBLEMS = {
  "validation-error": { status: 400, title: "The request is not valid" },
  "malformed-json": { status: 400, title: "The request body is not valid JSON" },
  unauthenticated: { status: 401, title: "Authentication is required" },
  "invalid-api-key": { status: 401, title: "The API key is invalid, expired or revoked" },
  "insufficient-scope": { status: 403, title: "The API key lacks a required scope" },
  forbidden: { status: 403, title: "This caller may not do that" },
  "tenant-suspended": { status: 403, title: "The tenant is suspended" },
  "storage-quota-exceeded": { status: 403, title: "The write would exceed the tenant's storage quota" },
  "not-found": { status: 404, title: "The resource does not exist" },
  "method-not-allowed": { status: 405, title: "The method is not allowed on this resource" },
  conflict: { status: 409, title: "The request conflicts with the current state" },
  "idempotency-key-in-use": {
    status: 409,
    title: "A request with this Idempotency-Key is still being processed",
  },
  "tenant-not-ready": { status: 409, title: "The tenant is not ready to serve data" },
  "precondition-failed": { status: 412, title: "The resource has changed since it was read" },
  "payload-too-large": { status: 413, title: "The request body is too large" },
  "unsupported-media-type": { status: 415, title: "The request body must be application/json" },
  "idempotency-key-reused": {
    status: 422,
    title: "The Idempotency-Key was already used with a different request",
  },
  "unprocessable-entity": { status: 422, title: "The request cannot be processed" },
  "rate-limited": { status: 429, title: "Too many requests; retry after the indicated time" },
  "quota-exhausted": { status: 429, title: "The monthly request quota is used up" },
  "internal-error": { status: 500, title: "An unexpected error occurred" },
  "shard-unavailable": { status: 503, title: "The tenant's data shard is unavailable" },
  "shard-migration-failed": { status: 503, title: "A shard's migrations failed; its tenants are in MIGRATION_ERROR" },
  "shard-read-only": { status: 503, title: "The tenant's data shard accepts no writes right now" },
  "tenant-moving": { status: 503, title: "The tenant's data is being moved; writes resume shortly" },
  "circuit-open": { status: 503, title: "Calls to a failing dependency are paused" },
  "concurrency-limit": { status: 503, title: "Too many requests of this tenant are in flight" },
  "control-plane-unavailable": { status: 503, title: "The platform cannot verify this request right now" },
} as const satisfies Record<string, { status: ContentfulStatusCode; title: string }>;

export type ProblemType = keyof typeof PROBLEMS;

export type FieldError = { path: string; message: string; code?: string };

/** The one error the domain and HTTP layers throw; `onError` renders it as problem+json. */
export class AppError extends Error {
  readonly type: ProblemType;
  readonly status: ContentfulStatusCode;
  readonly detail?: string;
  readonly extensions: Record<string, unknown>;
  readonly headers: Record<string, string>;

  constructor(
    type: ProblemType,
    detail?: string,
    options: { extensions?: Record<string, unknown>; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(detail ?? PROBLEMS[type].title, { cause: options.cause });
    this.name = "AppError";
    this.type = type;
    this.status = PROBLEMS[type].status;
    this.detail = detail;
    this.extensions = options.extensions ?? {};
    this.headers = options.headers ?? {};
  }
}

export const notFound = (what: string) => new AppError("not-found", `${what} was not found`);

/** The control plane (database or a tenant's gate) failed and nothing cached can answer instead. */
export const controlPlaneUnavailable = (detail: string, cause: unknown) =>
  new AppError("control-plane-unavailable", `${detail}; retry shortly`, { headers: { "Retry-After": "1" }, cause });
