import {
  conflictResponse,
  errorResponses,
  IdempotencyHeader,
  PageQuery,
  pageOf,
  TenantParams,
  unprocessableResponse,
} from "../http/api";
import { defineRoute } from "../http/define-route";
import { ID_PATTERN } from "../http/ids";
import { json } from "../http/openapi-helpers";
import { cursorAfter, page } from "../http/pagination";
import { createRouter } from "../http/router";
import { MoveParams, MoveSchema, moveView, StartMoveBody } from "./api";
import { getMove, listMoves, startMove } from "./service";

const tags = ["Tenant moves"];
const guard = { tenant: true, platformAdmin: true } as const;

/** Mounted at /v1/tenants/:tenantId. */
export const moveRoutes = createRouter()
  .openapi(
    defineRoute({
      method: "post",
      path: "/move",
      tags,
      summary: "Move the tenant's data to another shard, online (platform admin)",
      description:
        "Starts an asynchronous move and answers 202 with its status resource. Reads go on throughout; during the short cut-over the tenant's data writes wait up to 2 s, then get 503 tenant-moving with Retry-After.",
      meta: { ...guard, audit: "move.started" },
      request: { params: TenantParams, headers: IdempotencyHeader, body: { ...json(StartMoveBody), required: true } },
      responses: {
        202: { description: "The move, queued", ...json(MoveSchema) },
        ...errorResponses,
        ...conflictResponse,
        ...unprocessableResponse,
      },
    }),
    async (c) => {
      const tenantId = c.var.route.tenantId;
      const move = await startMove(c.var.db, c.env, tenantId, c.req.valid("json").target_shard);
      c.header("Location", `/v1/tenants/${tenantId}/moves/${move.id}`);
      return c.json(moveView(move), 202);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/moves",
      tags,
      summary: "The tenant's moves, newest first (platform admin)",
      meta: guard,
      request: { params: TenantParams, query: PageQuery },
      responses: { 200: { description: "A page of moves", ...json(pageOf(MoveSchema)) }, ...errorResponses },
    }),
    async (c) => {
      const { limit, cursor } = c.req.valid("query");
      const result = await listMoves(c.var.db, c.var.route.tenantId, {
        limit,
        after: cursorAfter(cursor, ID_PATTERN),
      });
      return c.json(page(result, moveView), 200);
    },
  )
  .openapi(
    defineRoute({
      method: "get",
      path: "/moves/{moveId}",
      tags,
      summary: "A move's status and progress (platform admin)",
      meta: guard,
      request: { params: MoveParams },
      responses: { 200: { description: "The move", ...json(MoveSchema) }, ...errorResponses },
    }),
    async (c) => c.json(moveView(await getMove(c.var.db, c.var.route.tenantId, c.req.valid("param").moveId)), 200),
  );
