import { z } from "@hono/zod-openapi";
import { ARCHIVE_STATES, type TenantArchive } from "../archives/table";
import { idSchema, iso, TenantParams, Timestamp } from "../http/api";

export const ExportParams = TenantParams.extend({
  exportId: idSchema("exp", "exp_01JD8X5Q3M2V7T6R4N9K0B1C2D").openapi({ param: { name: "exportId", in: "path" } }),
});

export const DownloadQuery = z.object({
  expires: z.string().optional().openapi({ description: "The link's expiry, Unix seconds" }),
  signature: z.string().optional().openapi({ description: "HMAC-SHA-256 of method, path and expiry, base64url" }),
});

export const DownloadLink = z
  .object({
    url: z.string().url().openapi({ description: "GET it with no API key; Range requests work" }),
    expires_at: Timestamp,
    served_by: z.enum(["worker", "r2"]).openapi({
      description:
        "worker: the Worker checks the link on every request and records each download; r2: a presigned R2 URL (SigV4), R2 serves the bytes and the link's issue is what the trail records",
    }),
  })
  .openapi("DownloadLink");

export const ExportSchema = z
  .object({
    id: z.string(),
    tenant_id: z.string(),
    state: z.enum(ARCHIVE_STATES).openapi({
      description:
        "queued → writing → verifying (read back and checked) → completed (downloadable) → expired (file deleted); or failed",
    }),
    progress: z.object({
      rows_written: z.number().int().openapi({ description: "Rows written by the try under way, or in all once done" }),
      rows_expected: z.number().int().nullable().openapi({ description: "The tenant's rows when writing began" }),
    }),
    rows: z.number().int().nullable(),
    bytes: z.number().int().nullable().openapi({ description: "Size of the ZIP" }),
    format_version: z.number().int().nullable(),
    manifest_sha256: z.string().nullable().openapi({ description: "SHA-256 of the archive's manifest.json" }),
    attempts: z.number().int().openapi({ description: "Failed tries so far (five fail the export)" }),
    error: z.string().nullable(),
    created_at: Timestamp,
    updated_at: Timestamp,
    completed_at: Timestamp.nullable(),
    expires_at: Timestamp.nullable().openapi({ description: "When the file is deleted" }),
    download: DownloadLink.nullable().openapi({ description: "A fresh signed link, while the export is completed" }),
  })
  .openapi("Export");

export type ExportView = z.infer<typeof ExportSchema>;

export const exportView = (archive: TenantArchive, download: ExportView["download"]): ExportView => ({
  id: archive.id,
  tenant_id: archive.tenantId,
  state: archive.state,
  progress: { rows_written: archive.rowsWritten, rows_expected: archive.rowsExpected },
  rows: archive.rows,
  bytes: archive.bytes,
  format_version: archive.formatVersion,
  manifest_sha256: archive.manifestSha256,
  attempts: archive.attempts,
  error: archive.error,
  created_at: iso(archive.createdAt) as string,
  updated_at: iso(archive.updatedAt) as string,
  completed_at: iso(archive.completedAt),
  expires_at: iso(archive.expiresAt),
  download,
});
