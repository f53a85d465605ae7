import { conflictResponse, errorResponses, IdempotencyHeader, PageQuery, pageOf, TenantParams } from "../http/api";
import { defineRoute } from "../http/define-route";
import { ID_PATTERN } from "../http/ids";
import { json } from "../http/openapi-helpers";
import { cursorAfter, page } from "../http/pagination";
import { createRouter } from "../http/router";
import { CreateUserBody, UpdateUserBody, UserParams, UserSchema, userView } from "./api";
import { createUser, getUser, listUsers, removeUser, updateUser } from "./service";

const tags = ["Users"];
const guard = { tenant: true, scope: "tenant:admin" } as const;

const create = defineRoute({
  method: "post",
  path: "/",
  tags,
  summary: "Add a user to the tenant",
  meta: { ...guard, audit: "user.created" },
  request: { params: TenantParams, headers: IdempotencyHeader, body: { ...json(CreateUserBody), required: true } },
  responses: { 201: { description: "Created", ...json(UserSchema) }, ...errorResponses, ...conflictResponse },
});

const list = defineRoute({
  method: "get",
  path: "/",
  tags,
  summary: "List the tenant's users",
  meta: guard,
  request: { params: TenantParams, query: PageQuery },
  responses: { 200: { description: "A page of users", ...json(pageOf(UserSchema)) }, ...errorResponses },
});

const get = defineRoute({
  method: "get",
  path: "/{userId}",
  tags,
  summary: "Get a user",
  meta: guard,
  request: { params: UserParams },
  responses: { 200: { description: "The user", ...json(UserSchema) }, ...errorResponses },
});

const update = defineRoute({
  method: "patch",
  path: "/{userId}",
  tags,
  summary: "Change a user's role or name",
  meta: { ...guard, audit: "user.updated" },
  request: { params: UserParams, body: { ...json(UpdateUserBody), required: true } },
  responses: { 200: { description: "The user", ...json(UserSchema) }, ...errorResponses },
});

const remove = defineRoute({
  method: "delete",
  path: "/{userId}",
  tags,
  summary: "Remove a user and revoke the keys issued to them",
  meta: { ...guard, audit: "user.deleted" },
  request: { params: UserParams },
  responses: { 204: { description: "Removed" }, ...errorResponses },
});

export const userRoutes = createRouter()
  .openapi(create, async (c) => {
    const user = await createUser(c.var.db, c.var.emit, c.var.route.tenantId, c.req.valid("json"));
    c.header("Location", `/v1/tenants/${user.tenantId}/users/${user.id}`);
    return c.json(userView(user), 201);
  })
  .openapi(list, async (c) => {
    const { limit, cursor } = c.req.valid("query");
    const result = await listUsers(c.var.db, c.var.route.tenantId, {
      limit,
      after: cursorAfter(cursor, ID_PATTERN),
    });
    return c.json(page(result, userView), 200);
  })
  .openapi(get, async (c) => {
    const user = await getUser(c.var.db, c.var.route.tenantId, c.req.valid("param").userId);
    return c.json(userView(user), 200);
  })
  .openapi(update, async (c) => {
    const user = await updateUser(
      c.var.db,
      c.var.emit,
      c.var.route.tenantId,
      c.req.valid("param").userId,
      c.req.valid("json"),
    );
    return c.json(userView(user), 200);
  })
  .openapi(remove, async (c) => {
    await removeUser(c.var.db, c.var.emit, c.var.route.tenantId, c.req.valid("param").userId);
    return c.body(null, 204);
  });
