import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../env";
import { jsonTextIssues } from "./json-model";
import { AppError } from "./problems";
import { validationError } from "./router";

/** The media types the routes' validators read as JSON; others they answer themselves (415). */
const JSON_MEDIA_TYPE = /^application\/([\w.-]+\+)?json$/i;

/**
 * Holds every JSON request body to the model of src/http/json-model.ts before anything reads
 * it: a charset other than UTF-8 or a Content-Encoding is 415, not UTF-8 is 400 malformed-json
 * (decoding would otherwise swap the bytes for U+FFFD), and each breach of the model is listed
 * in one 400 validation-error, with its path. A body that is not JSON at all is left to the
 * route's validator.
 */
export const jsonBody = () =>
  createMiddleware<AppEnv>(async (c, next) => {
    const [type = "", ...parameters] = (c.req.header("Content-Type") ?? "").split(";");
    if (!JSON_MEDIA_TYPE.test(type.trim())) return next();
    // Every charset named counts: a second one may not slip past the first.
    const charset = parameters
      .map((parameter) => /^\s*charset\s*=\s*"?([^";\s]*)"?\s*$/i.exec(parameter)?.[1])
      .find((value) => value !== undefined && !/^utf-?8$/i.test(value));
    if (charset !== undefined) {
      throw new AppError(
        "unsupported-media-type",
        `JSON bodies are UTF-8; charset=${charset.slice(0, 40)} is not taken`,
      );
    }
    const encoding = c.req.header("Content-Encoding")?.trim().toLowerCase();
    if (encoding && encoding !== "identity") {
      throw new AppError(
        "unsupported-media-type",
        "Request bodies are read as sent: send them without Content-Encoding",
      );
    }
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(await c.req.arrayBuffer());
    } catch {
      throw new AppError("malformed-json", "The request body is not valid UTF-8, which JSON must be");
    }
    try {
      JSON.parse(text);
    } catch {
      return next();
    }
    const issues = jsonTextIssues(text);
    if (issues.length > 0) {
      throw validationError({ issues: issues.map((issue) => ({ ...issue, code: "custom" })) }, "json");
    }
    return next();
  });
