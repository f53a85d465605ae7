import { z } from "@hono/zod-openapi";
import { ARCHIVE_STATES, type TenantArchive } from "../archives/table";
import type { Validation } from "../archives/validate";
import { idSchema, iso, TenantParams, Timestamp } from "../http/api";

export const BackupParams = TenantParams.extend({
  backupId: idSchema("bak", "bak_01JD8X5Q3M2V7T6R4N9K0B1C2D").openapi({ param: { name: "backupId", in: "path" } }),
});

export const BackupSchema = z
  .object({
    id: z.string(),
    tenant_id: z.string(),
    state: z.enum(ARCHIVE_STATES).openapi({
      description:
        "queued → writing → verifying (read back and checked) → completed; expired once newer ones push it past the plan's backups_kept; or failed",
    }),
    daily: z
      .string()
      .nullable()
      .openapi({ description: "The day of a scheduled backup (UTC), null for one on demand" }),
    progress: z.object({ rows_written: z.number().int(), rows_expected: z.number().int().nullable() }),
    rows: z.number().int().nullable(),
    bytes: z.number().int().nullable(),
    format_version: z.number().int().nullable(),
    manifest_sha256: z.string().nullable(),
    feed: z.object({ before_seq: z.number().int(), after_seq: z.number().int() }).nullable().openapi({
      description:
        "The tenant's feed around the read: the backup holds every change up to before_seq, none after after_seq",
    }),
    attempts: z.number().int(),
    error: z.string().nullable(),
    created_at: Timestamp,
    updated_at: Timestamp,
    completed_at: Timestamp.nullable(),
  })
  .openapi("Backup");

export const backupView = (archive: TenantArchive): z.infer<typeof BackupSchema> => ({
  id: archive.id,
  tenant_id: archive.tenantId,
  state: archive.state,
  daily: archive.dedupeKey?.startsWith("daily:") ? archive.dedupeKey.slice("daily:".length) : null,
  progress: { rows_written: archive.rowsWritten, rows_expected: archive.rowsExpected },
  rows: archive.rows,
  bytes: archive.bytes,
  format_version: archive.formatVersion,
  manifest_sha256: archive.manifestSha256,
  feed:
    archive.feedBeforeSeq === null || archive.feedAfterSeq === null
      ? null
      : { before_seq: archive.feedBeforeSeq, after_seq: archive.feedAfterSeq },
  attempts: archive.attempts,
  error: archive.error,
  created_at: iso(archive.createdAt) as string,
  updated_at: iso(archive.updatedAt) as string,
  completed_at: iso(archive.completedAt),
});

export const ValidationSchema = z
  .object({
    ok: z.boolean(),
    manifest_sha256: z.string().nullable(),
    files: z.array(z.object({ name: z.string(), rows: z.number().int() })),
    audit: z
      .object({
        checked: z.number().int(),
        pending: z.number().int(),
        checkpoints_checked: z.number().int(),
        head: z.object({ seq: z.number().int(), hash: z.string() }),
      })
      .nullable(),
    problem: z.string().nullable().openapi({ description: "The first thing found wrong, when not ok" }),
  })
  .openapi("ArchiveValidation");

export const validationView = (validation: Validation): z.infer<typeof ValidationSchema> => validation;
