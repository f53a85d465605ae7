import { and, eq, inArray, isNull, type SQL } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { refusedWith } from "../db/errors";
import { newestFirst, type PageRequest } from "../db/keyset";
import { chunksOf } from "../db/sql";
import type { Emit } from "../events/domain";
import type { EventType } from "../events/event";
import { outboxEvent } from "../events/outbox";
import { newId } from "../http/ids";
import { AppError, notFound } from "../http/problems";
import { tenants } from "../tenants/table";
import { users } from "../users/table";
import { keyMetadata } from "./dataset";
import { ROLE_SCOPES, type Scope } from "./scopes";
import { generateKey } from "./secret";
import { type ApiKey, apiKeys } from "./table";

export type KeyInput = {
  name: string;
  scopes: Scope[];
  expiresAt?: number | null;
  userId?: string | null;
  rateLimitPerMinute?: number | null;
  /** The key creating this one (a tenant's, or a platform admin's with tenantId null), whose limits it may not exceed. */
  mintedBy?: { tenantId: string | null; keyId: string } | null;
};

/**
 * What a new key would hold beyond the key creating it: a key limited to N requests a minute may
 * create keys limited to at most N, and a key that expires only keys that expire no later, or a
 * limited key could shed its limits by minting a new one.
 */
export function beyondMinter(
  minter: Pick<ApiKey, "rateLimitPerMinute" | "expiresAt">,
  input: Pick<KeyInput, "rateLimitPerMinute" | "expiresAt">,
): { path: string; message: string }[] {
  const excess: { path: string; message: string }[] = [];
  const rate = input.rateLimitPerMinute ?? null;
  if (minter.rateLimitPerMinute !== null && (rate === null || rate > minter.rateLimitPerMinute)) {
    excess.push({
      path: "body.rate_limit_per_minute",
      message: `the creating key is limited to ${minter.rateLimitPerMinute} requests per minute; send at most that`,
    });
  }
  const expiry = input.expiresAt ?? null;
  if (minter.expiresAt !== null && (expiry === null || expiry > minter.expiresAt)) {
    excess.push({
      path: "body.expires_at",
      message: `the creating key expires at ${new Date(minter.expiresAt).toISOString()}; send that or earlier`,
    });
  }
  return excess;
}

/** The event of a change to one of the tenant's keys, in the change's batch. */
const keyEvent = (db: ControlDb, emit: Emit, type: EventType, tenantId: string, keyId: string) =>
  outboxEvent(db, emit, {
    type,
    tenantId,
    subject: "key",
    dataset: keyMetadata,
    where: and(eq(apiKeys.tenantId, tenantId), eq(apiKeys.id, keyId)) as SQL,
  });

/** Creates a key for a tenant (or a platform-admin key when tenantId is null); the secret is returned once. */
export async function createKey(db: ControlDb, emit: Emit, tenantId: string | null, input: KeyInput, now = Date.now()) {
  if (input.mintedBy != null) {
    const excess = beyondMinter(await getKey(db, input.mintedBy.tenantId, input.mintedBy.keyId), input);
    if (excess.length > 0) {
      throw new AppError("unprocessable-entity", "A key cannot create a key with limits beyond its own", {
        extensions: { errors: excess },
      });
    }
  }
  if (tenantId !== null && input.userId != null) {
    const user = await db.query.users.findFirst({
      where: and(eq(users.tenantId, tenantId), eq(users.id, input.userId)),
    });
    if (!user) throw notFound("User");
    const allowed = ROLE_SCOPES[user.role];
    const excess = input.scopes.filter((scope) => !allowed.includes(scope));
    if (excess.length > 0) {
      throw new AppError("unprocessable-entity", `A ${user.role} user cannot hold the scope(s): ${excess.join(", ")}`);
    }
  }
  const generated = await generateKey();
  const id = newId("key");
  const insert = db
    .insert(apiKeys)
    .values({
      id,
      tenantId,
      userId: input.userId ?? null,
      name: input.name,
      prefix: generated.prefix,
      secretHash: generated.secretHash,
      scopes: input.scopes,
      rateLimitPerMinute: input.rateLimitPerMinute ?? null,
      expiresAt: input.expiresAt ?? null,
      createdAt: now,
    })
    .returning();
  // A platform-admin key is no tenant's data: it has no feed to announce it in.
  const event = tenantId === null ? [] : [keyEvent(db, emit, "key.created", tenantId, id)];
  const [[row]] = await insertKey(input.userId ?? null, () => db.batch([insert, ...event] as [typeof insert]));
  const key = row as ApiKey;
  await emit({ type: "key.created", tenantId, keyId: key.id });
  return { key, secret: generated.key };
}

/** Inserts the key; its user removed since it was checked is the 404 it would have been then. */
async function insertKey<T>(userId: string | null, insert: () => Promise<T>): Promise<T> {
  try {
    return await insert();
  } catch (error) {
    if (userId !== null && refusedWith(error, /FOREIGN KEY constraint failed/)) throw notFound("User");
    throw error;
  }
}

const ownedBy = (tenantId: string | null) =>
  tenantId === null ? isNull(apiKeys.tenantId) : eq(apiKeys.tenantId, tenantId);

export async function listKeys(db: ControlDb, tenantId: string | null, page: PageRequest) {
  const keyset = newestFirst(apiKeys.id, page);
  const rows = await db
    .select()
    .from(apiKeys)
    .where(and(ownedBy(tenantId), keyset.after))
    .orderBy(keyset.order)
    .limit(keyset.limit);
  return keyset.page(rows);
}

export async function getKey(db: ControlDb, tenantId: string | null, keyId: string) {
  const row = await db.query.apiKeys.findFirst({ where: and(ownedBy(tenantId), eq(apiKeys.id, keyId)) });
  if (!row) throw notFound("API key");
  return row;
}

/** Revocation is a single write to the control database; see README "Key revocation". */
export async function revokeKey(db: ControlDb, emit: Emit, tenantId: string | null, keyId: string, now = Date.now()) {
  const key = await getKey(db, tenantId, keyId);
  // Announced again when it already was: a repeated DELETE re-sends what an earlier one's
  // listeners (the gate's reload) may have missed.
  if (key.revokedAt) {
    await emit({ type: "key.revoked", tenantId, keyId });
    return key;
  }
  const update = db
    .update(apiKeys)
    .set({ revokedAt: now })
    .where(and(ownedBy(tenantId), eq(apiKeys.id, keyId)))
    .returning();
  const event = tenantId === null ? [] : [keyEvent(db, emit, "key.revoked", tenantId, keyId)];
  const [[row]] = await db.batch([update, ...event] as [typeof update]);
  await emit({ type: "key.revoked", tenantId, keyId });
  return row as ApiKey;
}

/** The key row for a presented prefix together with its tenant's status, in one query. */
export async function findKeyByPrefix(db: ControlDb, prefix: string) {
  const [row] = await db
    .select({ key: apiKeys, tenantStatus: tenants.status, userRole: users.role })
    .from(apiKeys)
    .leftJoin(tenants, eq(tenants.id, apiKeys.tenantId))
    .leftJoin(users, eq(users.id, apiKeys.userId))
    .where(eq(apiKeys.prefix, prefix))
    .limit(1);
  return row;
}

/** Recording every use would turn each read into a write; a minute's resolution is enough. */
export const LAST_USED_RESOLUTION_MS = 60_000;

/**
 * Records a use of the key; with its tenant, the tenant's activity too (the gate's admissions:
 * what archival reads to find tenants no one has used).
 */
export async function touchKey(db: ControlDb, keyId: string, now = Date.now(), tenantId: string | null = null) {
  const key = db.update(apiKeys).set({ lastUsedAt: now }).where(eq(apiKeys.id, keyId));
  if (tenantId === null) {
    await key;
    return;
  }
  await db.batch([key, db.update(tenants).set({ lastActiveAt: now }).where(eq(tenants.id, tenantId))]);
}

/** D1 binds at most 100 parameters per statement; a chunk of ids leaves room for the tenant id. */
const KEY_IDS_PER_STATEMENT = 90;

const gateKeyColumns = {
  id: apiKeys.id,
  userId: apiKeys.userId,
  secretHash: apiKeys.secretHash,
  scopes: apiKeys.scopes,
  expiresAt: apiKeys.expiresAt,
  revokedAt: apiKeys.revokedAt,
  rateLimitPerMinute: apiKeys.rateLimitPerMinute,
  userRole: users.role,
};

const gateKeysChunk = (db: ControlDb, tenantId: string, keyIds: string[]) =>
  db
    .select(gateKeyColumns)
    .from(apiKeys)
    .leftJoin(users, eq(users.id, apiKeys.userId))
    .where(and(eq(apiKeys.tenantId, tenantId), inArray(apiKeys.id, keyIds)));

export type GateKey = Awaited<ReturnType<typeof gateKeysChunk>>[number];

/**
 * What a tenant's gate needs to verify these keys: the stored hash, state, limit and the user's
 * role. Any number of ids, in statements of at most KEY_IDS_PER_STATEMENT.
 */
export async function gateKeysQuery(db: ControlDb, tenantId: string, keyIds: string[]): Promise<GateKey[]> {
  const chunks = chunksOf(keyIds, KEY_IDS_PER_STATEMENT);
  return (await Promise.all(chunks.map((chunk) => gateKeysChunk(db, tenantId, chunk)))).flat();
}
