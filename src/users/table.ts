import { sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { epochMs } from "../db/columns";
import { tenants } from "../tenants/table";

export const USER_ROLES = ["TENANT_ADMIN", "MEMBER", "READ_ONLY"] as const;
export type UserRole = (typeof USER_ROLES)[number];

export const users = sqliteTable(
  "users",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id")
      .notNull()
      .references(() => tenants.id),
    email: text("email").notNull(),
    name: text("name"),
    role: text("role").$type<UserRole>().notNull(),
    createdAt: epochMs("created_at").notNull(),
    updatedAt: epochMs("updated_at").notNull(),
  },
  (t) => [uniqueIndex("users_tenant_email_uq").on(t.tenantId, t.email)],
);

export type User = typeof users.$inferSelect;
