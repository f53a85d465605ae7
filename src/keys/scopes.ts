export const SCOPES = ["entries:read", "entries:write", "tenant:admin"] as const;
export type Scope = (typeof SCOPES)[number];

/** Platform-admin keys act with every scope on every tenant. */
export const ALL_SCOPES: readonly Scope[] = SCOPES;

/** The most a key issued to a user of each role may do; a key's effective scopes are capped by its user's current role. */
export const ROLE_SCOPES: Record<"TENANT_ADMIN" | "MEMBER" | "READ_ONLY", readonly Scope[]> = {
  TENANT_ADMIN: SCOPES,
  MEMBER: ["entries:read", "entries:write"],
  READ_ONLY: ["entries:read"],
};
