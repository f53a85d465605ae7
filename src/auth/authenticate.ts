import { createMiddleware } from "hono/factory";
import { controlDb } from "../db/client";
import type { AppEnv, Principal } from "../env";
import { AppError } from "../http/problems";
import { ALL_SCOPES, ROLE_SCOPES } from "../keys/scopes";
import { digestsEqual, parseKey, sha256Hex } from "../keys/secret";
import { findKeyByPrefix, LAST_USED_RESOLUTION_MS, touchKey } from "../keys/service";

export type AuthenticateOptions = {
  /** Where the key is read from; `Authorization: Bearer <key>` by default. */
  readKey?: (header: (name: string) => string | undefined) => string | undefined;
};

const bearer = (header: (name: string) => string | undefined) => {
  const value = header("Authorization");
  const match = value ? /^Bearer\s+(\S+)\s*$/i.exec(value) : null;
  return match?.[1];
};

/**
 * Resolves the API key to a Principal. Every request reads the key row from the control
 * database (no isolate cache), which is what makes revocation effective immediately.
 */
export const authenticate = (options: AuthenticateOptions = {}) => {
  const readKey = options.readKey ?? bearer;
  return createMiddleware<AppEnv>(async (c, next) => {
    const presented = readKey((name) => c.req.header(name));
    if (!presented) {
      throw new AppError("unauthenticated", "Send an API key as `Authorization: Bearer <key>`", {
        headers: { "WWW-Authenticate": 'Bearer realm="edge-tenancy"' },
      });
    }
    const invalid = new AppError("invalid-api-key", undefined, {
      headers: { "WWW-Authenticate": 'Bearer realm="edge-tenancy", error="invalid_token"' },
    });
    const parsed = parseKey(presented);
    if (!parsed) throw invalid;

    const db = controlDb(c.env);
    const [found, presentedHash] = await Promise.all([findKeyByPrefix(db, parsed.prefix), sha256Hex(parsed.secret)]);
    if (!found || !digestsEqual(found.key.secretHash, presentedHash)) throw invalid;
    const { key, tenantStatus, userRole } = found;
    const now = Date.now();
    if (key.revokedAt !== null || (key.expiresAt !== null && key.expiresAt <= now)) throw invalid;
    if (tenantStatus === "SUSPENDED") throw new AppError("tenant-suspended");

    const principal: Principal =
      key.tenantId === null
        ? { kind: "platform_admin", keyId: key.id, scopes: ALL_SCOPES }
        : {
            kind: "tenant",
            keyId: key.id,
            tenantId: key.tenantId,
            userId: key.userId,
            scopes: userRole ? key.scopes.filter((scope) => ROLE_SCOPES[userRole].includes(scope)) : key.scopes,
          };
    c.set("principal", principal);
    c.set("credential", presented);

    if (key.lastUsedAt === null || now - key.lastUsedAt >= LAST_USED_RESOLUTION_MS) {
      c.executionCtx.waitUntil(touchKey(db, key.id, now).catch(() => undefined));
    }
    await next();
  });
};
