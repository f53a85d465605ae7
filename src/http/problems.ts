import type { ContentfulStatusCode } from "hono/utils/http-status";

/**
 * The closed set of problem types this API answers with. The slug is the last segment of the
 * problem's `type` URI and never changes once published. `detail` is what a problem says when
 * the code raising it has nothing more specific to say.
 */
export const PROBLEMS = {
  "validation-error": {
    status: 400,
    title: "The request is not valid",
    detail: "Some fields of the request are not valid; `errors` lists each with its path",
  },
  "malformed-json": {
    status: 400,
    title: "The request body is not valid JSON",
    detail: "The request body could not be parsed as JSON",
  },
  unauthenticated: {
    status: 401,
    title: "Authentication is required",
    detail: "Send an API key as `Authorization: Bearer <key>`",
  },
  "invalid-api-key": {
    status: 401,
    title: "The API key is invalid, expired or revoked",
    detail: "The API key sent is unknown, wrong, expired or revoked; check it, or ask a tenant admin for a new one",
  },
  "insufficient-scope": {
    status: 403,
    title: "The API key lacks a required scope",
    detail: "The API key lacks a scope this operation needs",
  },
  forbidden: { status: 403, title: "This caller may not do that", detail: "This caller may not do that" },
  "tenant-suspended": {
    status: 403,
    title: "The tenant is suspended",
    detail: "The tenant is suspended; its keys work again once a platform admin makes it ACTIVE",
  },
  "storage-quota-exceeded": {
    status: 403,
    title: "The write would exceed the tenant's storage quota",
    detail: "The write would pass the plan's number of entries or stored bytes; delete entries or change the plan",
  },
  "link-invalid": {
    status: 403,
    title: "The download link is not valid",
    detail: "The link's path, expiry or signature was changed or is missing; ask the API for a new link",
  },
  "not-found": {
    status: 404,
    title: "The resource does not exist",
    detail: "Nothing exists at this URL for this caller",
  },
  "method-not-allowed": {
    status: 405,
    title: "The method is not allowed on this resource",
    detail: "This method is not allowed here; the Allow header lists those that are",
  },
  conflict: {
    status: 409,
    title: "The request conflicts with the current state",
    detail: "The request conflicts with the resource's current state; read it again and retry",
  },
  "idempotency-key-in-use": {
    status: 409,
    title: "A request with this Idempotency-Key is still being processed",
    detail: "A request with this Idempotency-Key is still running; retry after Retry-After for its response",
  },
  "tenant-not-ready": {
    status: 409,
    title: "The tenant is not ready to serve data",
    detail: "The tenant is not ACTIVE, so its data cannot be served yet",
  },
  "link-expired": {
    status: 410,
    title: "The download link has expired",
    detail: "The link is past its expiry; read the export again for a fresh link",
  },
  "tenant-deleted": {
    status: 410,
    title: "The tenant is deleted",
    detail: "The tenant was deleted; a platform admin can restore it until `purge_after`, when its data is purged",
  },
  "tenant-archived": {
    status: 409,
    title: "The tenant is archived",
    detail:
      "The tenant was archived after a long inactivity; POST /v1/tenants/{id}/rehydrate (a tenant admin or platform admin) brings it back",
  },
  "tenant-restoring": {
    status: 409,
    title: "The tenant's data is being restored",
    detail: "The tenant is a clone whose data is still being written; it opens once its restore completes",
  },
  "export-expired": {
    status: 410,
    title: "The export has expired",
    detail: "The export's file was deleted after its retention; request a new export",
  },
  "precondition-failed": {
    status: 412,
    title: "The resource has changed since it was read",
    detail: "The resource changed since the ETag sent in If-Match; read it again and retry",
  },
  "payload-too-large": {
    status: 413,
    title: "The request body is too large",
    detail: "The request body is larger than this API accepts",
  },
  "unsupported-media-type": {
    status: 415,
    title: "The request body must be application/json",
    detail: "Send the body as JSON with `Content-Type: application/json`",
  },
  "range-not-satisfiable": {
    status: 416,
    title: "The requested range is outside the file",
    detail: "The Range header asks for bytes outside the file; Content-Range gives its size",
  },
  "idempotency-key-reused": {
    status: 422,
    title: "The Idempotency-Key was already used with a different request",
    detail: "This Idempotency-Key was sent before with another method, path or body; use a new key for a new request",
  },
  "unprocessable-entity": {
    status: 422,
    title: "The request cannot be processed",
    detail: "The request is well-formed but cannot be carried out as it stands",
  },
  "rate-limited": {
    status: 429,
    title: "Too many requests; retry after the indicated time",
    detail: "A rate limit is reached; retry after the seconds in Retry-After",
  },
  "authentication-throttled": {
    status: 429,
    title: "Too many failed authentications",
    detail: "Too many failed authentications from this client or for this key; retry after Retry-After",
  },
  "quota-exhausted": {
    status: 429,
    title: "The monthly request quota is used up",
    detail: "The monthly request quota is used up; it resets at `resets_at`",
  },
  "internal-error": {
    status: 500,
    title: "An unexpected error occurred",
    detail:
      "Something failed on our side; it was logged under this request_id, which is what to quote when reporting it. Retrying later may succeed",
  },
  "shard-unavailable": {
    status: 503,
    title: "The tenant's data shard is unavailable",
    detail: "The tenant's data shard cannot be reached right now; retry after Retry-After",
  },
  "shard-migration-failed": {
    status: 503,
    title: "A shard's migrations failed; its tenants are in MIGRATION_ERROR",
    detail: "A shard's migrations failed; `shards` lists each shard's outcome",
  },
  "shard-read-only": {
    status: 503,
    title: "The tenant's data shard accepts no writes right now",
    detail: "The tenant's data shard is read-only for now; reads still work, retry writes after Retry-After",
  },
  "tenant-moving": {
    status: 503,
    title: "The tenant's data is being moved; writes resume shortly",
    detail: "The tenant's data is being moved to another shard; writes resume shortly, retry after Retry-After",
  },
  "circuit-open": {
    status: 503,
    title: "Calls to a failing dependency are paused",
    detail: "Calls to a failing dependency are paused; retry after Retry-After",
  },
  "concurrency-limit": {
    status: 503,
    title: "Too many requests of this tenant are in flight",
    detail: "The tenant has its maximum of requests in flight; retry after Retry-After",
  },
  "control-plane-unavailable": {
    status: 503,
    title: "The platform cannot verify this request right now",
    detail: "The platform cannot verify this request right now; retry after Retry-After",
  },
  "not-ready": {
    status: 503,
    title: "The Worker cannot serve requests now",
    detail: "A dependency the Worker needs is out of reach; `checks` says which",
  },
  "audit-unavailable": {
    status: 503,
    title: "The change could not be recorded in the audit trail",
    detail:
      "The change may have been made, but its audit record could not be written; retry with the same Idempotency-Key",
  },
  degraded: {
    status: 503,
    title: "This optional work is paused while the platform sheds load",
    detail: "A degrade switch pauses this work (GET /v1/admin/degradation); retry after Retry-After",
  },
  "stream-ticket-invalid": {
    status: 401,
    title: "The stream ticket is invalid, spent or expired",
    detail: "A stream ticket opens one connection within 60 s of being issued; ask POST …/stream/tickets for a new one",
  },
  "upgrade-required": {
    status: 426,
    title: "This resource is a WebSocket",
    detail: "Open this URL as a WebSocket (Upgrade: websocket)",
  },
  "stream-connection-limit": {
    status: 429,
    title: "The tenant has its plan's number of stream connections open",
    detail: "Close a connection of the tenant's, or change the plan; see Retry-After",
  },
  "webhook-target-refused": {
    status: 422,
    title: "The URL may not receive webhooks",
    detail: "Webhooks go to https URLs of public hosts only: no loopback, private, link-local or metadata addresses",
  },
} as const satisfies Record<string, { status: ContentfulStatusCode; title: string; detail: string }>;

export type ProblemType = keyof typeof PROBLEMS;

export type FieldError = { path: string; message: string; code?: string };

/** The one error the domain and HTTP layers throw; `onError` renders it as problem+json. */
export class AppError extends Error {
  readonly type: ProblemType;
  readonly status: ContentfulStatusCode;
  readonly detail: string;
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
    this.detail = detail ?? PROBLEMS[type].detail;
    this.extensions = options.extensions ?? {};
    this.headers = options.headers ?? {};
  }
}

export const notFound = (what: string) => new AppError("not-found", `${what} was not found`);

/** The control plane (database or a tenant's gate) failed and nothing cached can answer instead. */
export const controlPlaneUnavailable = (detail: string, cause: unknown) =>
  new AppError("control-plane-unavailable", `${detail}; retry shortly`, { headers: { "Retry-After": "1" }, cause });
