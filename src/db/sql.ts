import { type SQL, sql } from "drizzle-orm";

// Query-building helpers both shard engines share (SQLite and PostgreSQL spell these alike).

/** Splits `items` into runs of at most `size`, for statements with a bound on their parameters. */
export function chunksOf<T>(items: T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let i = 0; i < items.length; i += size) chunks.push(items.slice(i, i + size));
  return chunks;
}

type Column = { name: string };

/** The row being inserted, for an upsert that overwrites the row it collides with. */
const excluded = (column: Column): SQL => sql.raw(`excluded."${column.name}"`);

/** An upsert's SET that makes the stored entry exactly the copied one (every column but the key). */
export const overwriteEntry = (
  table: Record<"data" | "tags" | "version" | "sizeBytes" | "createdAt" | "updatedAt", Column>,
) => ({
  data: excluded(table.data),
  tags: excluded(table.tags),
  version: excluded(table.version),
  sizeBytes: excluded(table.sizeBytes),
  createdAt: excluded(table.createdAt),
  updatedAt: excluded(table.updatedAt),
});

/** One bundled migration of a shard: `name` is its drizzle journal tag, `sql` the file's text. */
export type ShardMigration = { name: string; sql: string };

/** The statements of a migration file, split where drizzle-kit marks them. */
export const migrationStatements = (text: string): string[] =>
  text
    .split("--> statement-breakpoint")
    .map((statement) => statement.trim())
    .filter((statement) => statement !== "");

/**
 * A pending migration's own statements failed (as opposed to the shard not answering): the
 * shard's schema is behind the code, which is what puts its tenants in MIGRATION_ERROR.
 */
export class MigrationFailed extends Error {
  constructor(
    readonly migration: string,
    cause: unknown,
  ) {
    super(`${migration}: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = "MigrationFailed";
  }
}
