import { z } from "@hono/zod-openapi";
import { idSchema, iso, TenantParams, Timestamp } from "../http/api";
import { USER_ROLES, type User } from "./table";

export const UserId = idSchema("usr", "usr_01JD8X5Q3M2V7T6R4N9K0B1C2E");
export const UserParams = TenantParams.extend({
  userId: UserId.openapi({ param: { name: "userId", in: "path" } }),
});

export const UserSchema = z
  .object({
    id: UserId,
    tenant_id: z.string(),
    email: z.string(),
    name: z.string().nullable(),
    role: z.enum(USER_ROLES),
    created_at: Timestamp,
    updated_at: Timestamp,
  })
  .openapi("User");

export const CreateUserBody = z
  .object({
    email: z.string().email().max(320),
    name: z.string().trim().min(1).max(200).optional(),
    role: z.enum(USER_ROLES).default("MEMBER"),
  })
  .strict()
  .openapi("CreateUser");

export const UpdateUserBody = z
  .object({ role: z.enum(USER_ROLES).optional(), name: z.string().trim().min(1).max(200).nullable().optional() })
  .strict()
  .refine((body) => Object.keys(body).length > 0, "send role or name")
  .openapi("UpdateUser");

export const userView = (u: User) => ({
  id: u.id,
  tenant_id: u.tenantId,
  email: u.email,
  name: u.name,
  role: u.role,
  created_at: iso(u.createdAt) as string,
  updated_at: iso(u.updatedAt) as string,
});
