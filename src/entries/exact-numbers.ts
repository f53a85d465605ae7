import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { validationError } from "../http/router";
import { documentIssues, parseMarkingInexact } from "./document";

/** The media types the body's validator reads as JSON; others it answers itself (415). */
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * Refuses an entry body whose `data` holds an integer a double cannot hold exactly, with every
 * problem of the document listed as the body's validator would list them. It reads the body's
 * text itself because the validator's parse has already rounded such numbers; a body that is
 * not JSON is left to the validator.
 */
export const exactNumbers = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    const mediaType = (c.req.header("Content-Type") ?? "").split(";")[0]?.trim() ?? "";
    if (!JSON_MEDIA_TYPE.test(mediaType)) return next();
    let parsed: ReturnType<typeof parseMarkingInexact>;
    try {
      parsed = parseMarkingInexact(await c.req.text());
    } catch {
      return next();
    }
    const data = (parsed.value as { data?: unknown } | null)?.data;
    if (parsed.inexact && data !== null && typeof data === "object") {
      const issues = documentIssues(data).map((issue) => ({
        code: "custom" as const,
        path: ["data", ...issue.path],
        message: issue.message,
      }));
      if (issues.length > 0) throw validationError({ issues }, "json");
    }
    return next();
  });
