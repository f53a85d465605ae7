import { and, eq, isNull, type SQL, sql } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { newestFirst, type PageRequest } from "../db/keyset";
import type { Emit } from "../events/domain";
import type { EventType } from "../events/event";
import { outboxEvent, outboxRemoval } from "../events/outbox";
import { newId } from "../http/ids";
import { AppError, notFound } from "../http/problems";
import { keyMetadata } from "../keys/dataset";
import { apiKeys } from "../keys/table";
import { tenantUsers } from "./dataset";
import { type User, type UserRole, users } from "./table";

/** The event of a change to the user's row, in the change's batch. */
const userEvent = (db: ControlDb, emit: Emit, type: EventType, tenantId: string, userId: string) =>
  outboxEvent(db, emit, {
    type,
    tenantId,
    subject: "user",
    dataset: tenantUsers,
    where: and(eq(users.tenantId, tenantId), eq(users.id, userId)) as SQL,
  });

export async function createUser(
  db: ControlDb,
  emit: Emit,
  tenantId: string,
  input: { email: string; name?: string | null; role: UserRole },
): Promise<User> {
  const now = Date.now();
  const id = newId("usr");
  const [inserted] = await db.batch([
    db
      .insert(users)
      .values({
        id,
        tenantId,
        email: input.email.toLowerCase(),
        name: input.name ?? null,
        role: input.role,
        createdAt: now,
        updatedAt: now,
      })
      .onConflictDoNothing({ target: [users.tenantId, users.email] })
      .returning(),
    userEvent(db, emit, "user.created", tenantId, id),
  ]);
  const user = inserted[0];
  if (!user) throw new AppError("conflict", `A user with email ${input.email} already exists`);
  await emit({ type: "user.created", tenantId, userId: user.id });
  return user;
}

export async function listUsers(db: ControlDb, tenantId: string, page: PageRequest) {
  const keyset = newestFirst(users.id, page);
  const rows = await db
    .select()
    .from(users)
    .where(and(eq(users.tenantId, tenantId), keyset.after))
    .orderBy(keyset.order)
    .limit(keyset.limit);
  return keyset.page(rows);
}

export async function getUser(db: ControlDb, tenantId: string, userId: string): Promise<User> {
  const user = await db.query.users.findFirst({ where: and(eq(users.tenantId, tenantId), eq(users.id, userId)) });
  if (!user) throw notFound("User");
  return user;
}

export async function updateUser(
  db: ControlDb,
  emit: Emit,
  tenantId: string,
  userId: string,
  patch: { role?: UserRole; name?: string | null },
): Promise<User> {
  const [[row]] = await db.batch([
    db
      .update(users)
      .set({ ...patch, updatedAt: Date.now() })
      .where(and(eq(users.tenantId, tenantId), eq(users.id, userId)))
      .returning(),
    userEvent(db, emit, "user.updated", tenantId, userId),
  ]);
  if (!row) throw notFound("User");
  // A role caps the scopes of the user's keys, which the tenant's gate holds.
  await emit({ type: "user.updated", tenantId, userId });
  return row;
}

/** Removes the user and revokes the keys issued to them, atomically. */
export async function removeUser(db: ControlDb, emit: Emit, tenantId: string, userId: string): Promise<void> {
  await getUser(db, tenantId, userId);
  const now = Date.now();
  const theirKeys = and(eq(apiKeys.tenantId, tenantId), eq(apiKeys.userId, userId));
  const revokedAt = sql`coalesce(${apiKeys.revokedAt}, ${now})`;
  await db.batch([
    // Read before the update, which takes the keys' user away: the events state what it leaves.
    outboxEvent(db, emit, {
      type: "key.revoked",
      tenantId,
      subject: "key",
      dataset: keyMetadata,
      where: and(theirKeys, isNull(apiKeys.revokedAt)) as SQL,
      after: { revoked_at: revokedAt, user_id: sql`json('null')` },
    }),
    db.update(apiKeys).set({ revokedAt, userId: null }).where(theirKeys),
    db.delete(users).where(and(eq(users.tenantId, tenantId), eq(users.id, userId))),
    outboxRemoval(db, emit, { type: "user.deleted", tenantId, subject: "user", id: userId }),
  ]);
  await emit({ type: "user.deleted", tenantId, userId });
}
