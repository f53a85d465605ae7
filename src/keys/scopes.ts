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

export type Role = keyof typeof ROLE_SCOPES;

/** A key's scopes as capped by its user's current role (keys without a user keep their own). */
export const effectiveScopes = (scopes: readonly Scope[], role: Role | null): Scope[] =>
  role ? scopes.filter((scope) => ROLE_SCOPES[role].includes(scope)) : [...scopes];
