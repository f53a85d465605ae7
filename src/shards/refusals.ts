import { driverErrors } from "../db/errors";
import { AppError } from "../http/problems";

// A shard refusing a statement because of the values it was given is an answer about the
// request, not a failure of the shard: it must not count against the tenant's circuit, or one
// client's bad data could pause every request of its tenant. Each engine says so its own way.

const refused = (engine: string, code: string, error: unknown) => {
  // Our validation should have caught it first; the code (never the values) tells us what slipped by.
  console.warn(JSON.stringify({ level: "warn", msg: "shard refused a value", engine, code }));
  return new AppError("unprocessable-entity", "The tenant's database refused a value of this request", {
    cause: error,
  });
};

const conflicted = (error: unknown) =>
  new AppError("conflict", "The write conflicts with what the tenant's database holds", { cause: error });

/**
 * PostgreSQL: SQLSTATE class 22 (data exception: invalid text, numeric overflow, …) refuses the
 * request's values, class 23 (integrity constraint) conflicts with stored rows; every other
 * class (connection, resources, internal, …) is the database failing. AppErrors pass through.
 */
export function pgRefusal(error: unknown): unknown {
  if (error instanceof AppError) return error;
  for (const cause of driverErrors(error)) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code !== "string" || !/^[0-9A-Z]{5}$/.test(code)) continue;
    if (code.startsWith("22")) return refused("postgres", code, error);
    if (code.startsWith("23")) return conflicted(error);
    return error;
  }
  return error;
}

/** SQLite result codes D1 puts in its messages that refuse the statement's values. */
const D1_VALUE_REFUSED = /\b(SQLITE_TOOBIG|SQLITE_MISMATCH)\b/;
const D1_CONFLICT = /\b(UNIQUE|PRIMARY KEY) constraint failed\b/;

/** D1: a value too big or of the wrong type refuses the request, a unique key conflicts. */
export function d1Refusal(error: unknown): unknown {
  if (error instanceof AppError) return error;
  for (const cause of driverErrors(error)) {
    const valueCode = D1_VALUE_REFUSED.exec(cause.message)?.[1];
    if (valueCode) return refused("d1", valueCode, error);
    if (D1_CONFLICT.test(cause.message)) return conflicted(error);
  }
  return error;
}
