import { and, eq, sql } from "drizzle-orm";
import type { ControlDb } from "../db/client";
import { newestFirst, type PageRequest } from "../db/keyset";
import type { Emit } from "../events/domain";
import { newId } from "../http/ids";
import { AppError, notFound } from "../http/problems";
import { apiKeys } from "../keys/table";
import { type User, type UserRole, users } from "./table";

export async function createUser(
  db: ControlDb,
  emit: Emit,
  tenantId: string,
  input: { email: string; name?: string | null; role: UserRole },
): Promise<User> {
  const now = Date.now();
  const inserted = await db
    .insert(users)
    .values({
      id: newId("usr"),
      tenantId,
      email: input.email.toLowerCase(),
      name: input.name ?? null,
      role: input.role,
      createdAt: now,
      updatedAt: now,
    })
    .onConflictDoNothing({ target: [users.tenantId, users.email] })
    .returning();
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
  const [row] = await db
    .update(users)
    .set({ ...patch, updatedAt: Date.now() })
    .where(and(eq(users.tenantId, tenantId), eq(users.id, userId)))
    .returning();
  if (!row) throw notFound("User");
  // A role caps the scopes of the user's keys, which the tenant's gate holds.
  await emit({ type: "user.updated", tenantId, userId });
  return row;
}

/** Removes the user and revokes the keys issued to them, atomically. */
export async function removeUser(db: ControlDb, emit: Emit, tenantId: string, userId: string): Promise<void> {
  await getUser(db, tenantId, userId);
  const now = Date.now();
  await db.batch([
    db
      .update(apiKeys)
      .set({ revokedAt: sql`coalesce(${apiKeys.revokedAt}, ${now})`, userId: null })
      .where(and(eq(apiKeys.tenantId, tenantId), eq(apiKeys.userId, userId))),
    db.delete(users).where(and(eq(users.tenantId, tenantId), eq(users.id, userId))),
  ]);
  await emit({ type: "user.deleted", tenantId, userId });
}
