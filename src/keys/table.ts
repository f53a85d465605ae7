import { index, integer, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";
import { epochMs, jsonText } from "../db/columns";
import { tenants } from "../tenants/table";
import { users } from "../users/table";
import type { Scope } from "./scopes";

/**
 * API keys. `tenant_id` null marks a platform-admin key. Only the SHA-256 of the
 * secret part is stored; `prefix` (the key's public part) is how a presented key is found.
 */
export const apiKeys = sqliteTable(
  "api_keys",
  {
    id: text("id").primaryKey(),
    tenantId: text("tenant_id").references(() => tenants.id),
    userId: text("user_id").references(() => users.id),
    name: text("name").notNull(),
    prefix: text("prefix").notNull(),
    secretHash: text("secret_hash").notNull(),
    scopes: jsonText<Scope[]>("scopes").notNull(),
    /** Optional per-key limit, applied on top of the tenant's own. */
    rateLimitPerMinute: integer("rate_limit_per_minute"),
    expiresAt: epochMs("expires_at"),
    lastUsedAt: epochMs("last_used_at"),
    revokedAt: epochMs("revoked_at"),
    createdAt: epochMs("created_at").notNull(),
  },
  (t) => [index("api_keys_tenant_idx").on(t.tenantId, t.id), uniqueIndex("api_keys_prefix_uq").on(t.prefix)],
);

export type ApiKey = typeof apiKeys.$inferSelect;
