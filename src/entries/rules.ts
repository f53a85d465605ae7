import { AppError } from "../http/problems";
import type { EntryInput, Precondition, StorageLimits } from "../shards/store";

// The entry rules every shard engine applies the same way, so D1 and PostgreSQL answer alike.

/** Bytes of the entry's data as JSON text: what the storage quota counts. */
export const sizeOf = (input: EntryInput) => new TextEncoder().encode(JSON.stringify(input.data)).byteLength;

export const uniqueTags = (tags: string[]) => [...new Set(tags)];

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

export function checkPrecondition(current: { version: number }, precondition: Precondition) {
  if (precondition === undefined || precondition === "*") return;
  if (!precondition.includes(current.version)) throw staleVersion(current.version);
}

/** How often an unconditional write retries after losing a race before answering 409. */
export const MAX_WRITE_ATTEMPTS = 8;

export const writeConflict = () =>
  new AppError("conflict", "The entry is being written concurrently; retry", { headers: { "Retry-After": "1" } });
