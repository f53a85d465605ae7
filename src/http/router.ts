import { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { AppError, type FieldError } from "./problems";

const LOCATION: Record<string, string> = { json: "body", query: "query", param: "path", header: "header" };

/** The part of a ZodError that a problem lists; a check of our own can produce the same. */
type Issues = { issues: readonly { path: readonly PropertyKey[]; message: string; code?: string }[] };

export function validationError(error: Issues, target: string): AppError {
  const location = LOCATION[target] ?? target;
  const errors: FieldError[] = error.issues.map((issue) => ({
    path: [location, ...issue.path.map(String)].join("."),
    message: issue.message,
    code: issue.code,
  }));
  return new AppError("validation-error", `${errors.length} field(s) failed validation`, {
    extensions: { errors },
  });
}

/** A sub-app whose zod validation failures become 400 problems listing every field. */
export const createRouter = () =>
  new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error, result.target);
    },
  });
