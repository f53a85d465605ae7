import { z } from "@hono/zod-openapi";
import { idSchema, iso, TenantParams, Timestamp, TimestampInput } from "../http/api";
import { ShardId } from "../shards/api";
import { CreateTenantBody, TenantSchema } from "../tenants/api";
import { RESTORE_KINDS, RESTORE_STATES, type TenantRestore } from "./table";

export const RestoreParams = TenantParams.extend({
  restoreId: idSchema("rst", "rst_01JD8X5Q3M2V7T6R4N9K0B1C2D").openapi({ param: { name: "restoreId", in: "path" } }),
});

const BackupId = idSchema("bak", "bak_01JD8X5Q3M2V7T6R4N9K0B1C2D");

export const RestoreFromBody = z.object({ backup_id: BackupId }).strict().openapi("RestoreFrom");

const CloneName = CreateTenantBody.shape.name;
const CloneSlug = CreateTenantBody.shape.slug;

export const RestoreToBody = z
  .object({
    at: TimestampInput.openapi({ description: "The moment to rebuild the tenant as of" }),
    into: z.enum(["clone", "in-place"]),
    name: CloneName.optional().openapi({
      description: "The clone's name (into: clone); default: the source's, with the moment",
    }),
    slug: CloneSlug.optional().openapi({
      description: "The clone's slug (into: clone); default: the source's, with the moment",
    }),
  })
  .strict()
  .openapi("RestoreTo");

export const CloneBody = z
  .object({
    name: CloneName,
    slug: CloneSlug,
    backup_id: BackupId.optional().openapi({
      description: "Clone the tenant as of this backup; default: as it is now",
    }),
    shard_id: ShardId.optional().openapi({
      description: "Place the clone on this shard (it must fit the plan and region); default: placement",
    }),
  })
  .strict()
  .openapi("Clone");

export const RehydrateBody = z
  .object({
    shard_id: ShardId.optional().openapi({
      description:
        "Bring it back onto this shard (platform admin; it must fit the plan and region); default: placement",
    }),
  })
  .strict()
  .openapi("Rehydrate");

export const RestoreSchema = z
  .object({
    id: z.string(),
    kind: z.enum(RESTORE_KINDS).openapi({
      description: "rehydrate: an archived tenant brought back; restore: entries in place; clone: a new tenant",
    }),
    tenant_id: z.string().openapi({ description: "The tenant restored from" }),
    target_tenant_id: z.string().openapi({ description: "The tenant written: the same one, or the clone" }),
    state: z.enum(RESTORE_STATES).openapi({
      description:
        "queued → importing → replaying (events after the snapshot) → applying (in place, behind the write fence) → verifying → completed; or failed",
    }),
    source: z.object({
      archive_id: z
        .string()
        .nullable()
        .openapi({ description: "The backup or hibernation archive read; null: the live rows" }),
      at: Timestamp.nullable().openapi({
        description: "The moment asked for (point in time); null: as of the snapshot",
      }),
    }),
    feed: z
      .object({ from_seq: z.number().int(), to_seq: z.number().int(), replayed_seq: z.number().int() })
      .nullable()
      .openapi({ description: "The source's events after from_seq up to to_seq are replayed onto the snapshot" }),
    events_applied: z.number().int().openapi({ description: "Entry events replayed so far" }),
    rows_imported: z.number().int(),
    rows_changed: z.number().int().openapi({ description: "In place: entries created, replaced or deleted" }),
    checksum: z.string().nullable().openapi({
      description:
        "SHA-256 of the restored entries' id, data, tags and created_at in id order (a rehydration: the archive's manifest's)",
    }),
    attempts: z.number().int(),
    error: z.string().nullable(),
    created_at: Timestamp,
    updated_at: Timestamp,
    completed_at: Timestamp.nullable(),
  })
  .openapi("Restore");

export const restoreView = (restore: TenantRestore): z.infer<typeof RestoreSchema> => ({
  id: restore.id,
  kind: restore.kind,
  tenant_id: restore.tenantId,
  target_tenant_id: restore.targetTenantId,
  state: restore.state,
  source: { archive_id: restore.archiveId, at: iso(restore.at) },
  feed:
    restore.fromSeq === null || restore.toSeq === null
      ? null
      : { from_seq: restore.fromSeq, to_seq: restore.toSeq, replayed_seq: restore.replayedSeq ?? restore.fromSeq },
  events_applied: restore.eventsApplied,
  rows_imported: restore.rowsImported,
  rows_changed: restore.rowsChanged,
  checksum: restore.checksum,
  attempts: restore.attempts,
  error: restore.error,
  created_at: iso(restore.createdAt) as string,
  updated_at: iso(restore.updatedAt) as string,
  completed_at: iso(restore.completedAt),
});

export const CloneSchema = z.object({ restore: RestoreSchema, tenant: TenantSchema }).openapi("CloneStarted", {
  description: "The clone (RESTORING until its data is written and checked) and its restore",
});

export const RehydrateSchema = z
  .object({ restore: RestoreSchema.nullable(), tenant: TenantSchema })
  .openapi("RehydrateStarted", {
    description: "The tenant and its rehydration; restore null when its data never left its shard (it is ACTIVE again)",
  });
