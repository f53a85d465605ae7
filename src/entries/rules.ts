import { newId } from "../http/ids";
import { AppError } from "../http/problems";
import type { EntityTags, EntryInput, Precondition, StorageLimits } from "../shards/store";

// The entry rules every shard engine applies the same way, so D1 and PostgreSQL answer alike.

/** Bytes of the entry's data as JSON text: what the storage quota counts. */
const sizeOf = (input: EntryInput) => new TextEncoder().encode(JSON.stringify(input.data)).byteLength;

const uniqueTags = (tags: string[]) => [...new Set(tags)];

const QUOTA_REFUSAL = /quota_exceeded:(entries|stored_bytes)/;

/** Turns the shard's quota refusal into a 403 naming the quota; anything else passes through. */
export function quotaError(error: unknown, limits: StorageLimits): unknown {
  for (let cause = error; cause instanceof Error; cause = cause.cause) {
    const match = QUOTA_REFUSAL.exec(cause.message);
    if (!match) continue;
    const quota = match[1] as "entries" | "stored_bytes";
    const limit = quota === "entries" ? limits.maxEntries : limits.maxStorageBytes;
    return new AppError(
      "storage-quota-exceeded",
      quota === "entries"
        ? `The plan allows at most ${limit} entries`
        : `The plan allows at most ${limit} bytes of entry data`,
      { extensions: { quota, limit } },
    );
  }
  return error;
}

export function staleVersion(version: number) {
  return new AppError("precondition-failed", `The entry is at version ${version}`, {
    headers: { ETag: `"${version}"` },
  });
}

const names = (tags: EntityTags | undefined, version: number) =>
  tags !== undefined && (tags === "*" || tags.includes(version));

/** 412 unless the version read satisfies If-Match and If-None-Match (strong comparison, as for a write). */
export function checkPrecondition(current: { version: number }, precondition: Precondition) {
  const { ifMatch, ifNoneMatch } = precondition ?? {};
  if (ifMatch !== undefined && !names(ifMatch, current.version)) throw staleVersion(current.version);
  if (names(ifNoneMatch, current.version)) throw staleVersion(current.version);
}

/** Conditions on particular versions hold only for the version read: the write must be made at it. */
const onVersion = (precondition: Precondition) =>
  Array.isArray(precondition?.ifMatch) || Array.isArray(precondition?.ifNoneMatch);

/** How often an unconditional write retries after losing a race before answering 409. */
const MAX_WRITE_ATTEMPTS = 8;

const writeConflict = () =>
  new AppError("conflict", "The entry is being written concurrently; retry", { headers: { "Retry-After": "1" } });

/** A new entry's row, the same on every engine. */
export const newEntryRow = (tenantId: string, input: EntryInput, now: number) => ({
  tenantId,
  id: newId("ent"),
  data: input.data,
  tags: uniqueTags(input.tags),
  version: 1,
  sizeBytes: sizeOf(input),
  createdAt: now,
  updatedAt: now,
});

/** What a replace writes over the version it read. */
export const replacementOf = (input: EntryInput, readVersion: number, now: number) => ({
  data: input.data,
  tags: uniqueTags(input.tags),
  version: readVersion + 1,
  sizeBytes: sizeOf(input),
  updatedAt: now,
});

/**
 * Optimistic replace: read, check If-Match, write conditionally on the version read. `write`
 * returns undefined when another writer got there first; a loser with no If-Match (or `*`) tries
 * again, up to MAX_WRITE_ATTEMPTS, then it is 409.
 */
export async function replaceOptimistically<T extends { version: number }>(
  read: () => Promise<T>,
  write: (current: T) => Promise<T | undefined>,
  precondition: Precondition,
): Promise<T> {
  for (let attempt = 0; attempt < MAX_WRITE_ATTEMPTS; attempt++) {
    const current = await read();
    checkPrecondition(current, precondition);
    const row = await write(current);
    if (row) return row;
  }
  throw writeConflict();
}

/**
 * Delete after an If-Match / If-None-Match check; `remove` deletes the row (only at the version read when
 * `conditional`) and says how many rows went. Losing a race: gone already is 404 (from `read`),
 * changed under a conditional delete is 412.
 */
export async function deleteChecked<T extends { version: number }>(
  read: () => Promise<T>,
  remove: (current: T, conditional: boolean) => Promise<number>,
  precondition: Precondition,
): Promise<void> {
  const current = await read();
  checkPrecondition(current, precondition);
  if ((await remove(current, onVersion(precondition))) > 0) return;
  throw staleVersion((await read()).version);
}

/** A keyset page from `limit + 1` rows: the extra row only says there is more. */
export const toPage = <T>(rows: T[], limit: number) => ({ items: rows.slice(0, limit), hasMore: rows.length > limit });
