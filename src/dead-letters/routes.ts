import { errorResponses, pageOf, unprocessableResponse } from "../http/api";
import { defineRoute } from "../http/define-route";
import { ID_PATTERN } from "../http/ids";
import { json } from "../http/openapi-helpers";
import { cursorAfter, page } from "../http/pagination";
import { createRouter } from "../http/router";
import { DeadLetterParams, DeadLetterQuery, DeadLetterSchema, deadLetterView } from "./api";
import { listDeadLetters, replayDeadLetter } from "./service";

const tags = ["Dead letters"];
const guard = { platformAdmin: true } as const;

/** Mounted at /v1/admin/dead-letters. */
export const deadLetterRoutes = createRouter()
  .openapi(
    defineRoute({
      method: "get",
      path: "/",
      tags,
      summary: "Queue messages that exhausted their retries, newest first (platform admin)",
      meta: guard,
      request: { query: DeadLetterQuery },
      responses: {
        200: { description: "A page of dead letters", ...json(pageOf(DeadLetterSchema)) },
        ...errorResponses,
      },
    }),
    async (c) => {
      const { limit, cursor, source, kind, tenant_id } = c.req.valid("query");
      const result = await listDeadLetters(
        c.var.db,
        { source, kind, tenantId: tenant_id },
        { limit, after: cursorAfter(cursor, ID_PATTERN) },
      );
      return c.json(page(result, deadLetterView), 200);
    },
  )
  .openapi(
    defineRoute({
      method: "post",
      path: "/{deadLetterId}/replay",
      tags,
      summary: "Send a dead letter back to its queue, as it was (platform admin)",
      description:
        "Jobs are idempotent, so a replay of a message that meanwhile succeeded does nothing. A lifecycle message no job can read is 422.",
      meta: { ...guard, audit: "dead_letter.replayed" },
      request: { params: DeadLetterParams },
      responses: {
        200: { description: "The dead letter, its replay counted", ...json(DeadLetterSchema) },
        ...errorResponses,
        ...unprocessableResponse,
      },
    }),
    async (c) =>
      c.json(deadLetterView(await replayDeadLetter(c.var.db, c.env, c.req.valid("param").deadLetterId)), 200),
  );
