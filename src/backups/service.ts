import { and, inArray, isNotNull } from "drizzle-orm";
import { getArchive, startArchive } from "../archives/service";
import { validateArchive } from "../archives/validate";
import { checkpointKey } from "../audit/checkpoints";
import type { ControlDb } from "../db/client";
import { errorText } from "../db/errors";
import type { ChangeOrigin } from "../events/event";
import { systemOrigin } from "../events/listeners";
import { AppError } from "../http/problems";
import type { FanOut } from "../jobs/fan-out";
import { tenantIdsAfter } from "../tenants/service";
import { tenants } from "../tenants/table";
import { backupTenantMessage } from "./messages";

/** A backup of the tenant, on demand (an archive of kind "backup", src/archives/job.ts). */
export const startBackup = (db: ControlDb, env: Env, tenantId: string, origin: ChangeOrigin) =>
  startArchive(db, env, tenantId, "backup", origin);

/** The UTC day of a moment, as the daily backups name it. */
export const dayOf = (at: number) => new Date(at).toISOString().slice(0, 10);

/**
 * The day's backup of the tenant, once: a message run twice (a retry, the fan-out's page run
 * again) finds it made or under way. A tenant with another backup under way (one on demand) or
 * not ready (not provisioned, deleted) is skipped that day.
 */
export async function dailyBackup(db: ControlDb, env: Env, tenantId: string, day: string): Promise<void> {
  try {
    await startArchive(db, env, tenantId, "backup", systemOrigin("daily-backup"), `daily:${day}`);
  } catch (error) {
    if (
      !(error instanceof AppError) ||
      (error.type !== "conflict" && error.type !== "tenant-not-ready" && error.type !== "not-found")
    ) {
      throw error;
    }
    console.log(
      JSON.stringify({
        level: "info",
        msg: "daily backup skipped",
        tenant_id: tenantId,
        day,
        reason: errorText(error.detail),
      }),
    );
  }
}

/** Reads the backup back and checks it whole: its manifest, every file's rows and SHA-256, its audit chain. */
export async function validateBackup(db: ControlDb, env: Env, tenantId: string, backupId: string) {
  const backup = await getArchive(db, tenantId, "backup", backupId);
  if (backup.state !== "completed") {
    throw new AppError("conflict", `A backup in state ${backup.state} has nothing to validate`);
  }
  return validateArchive(env.ARCHIVES, backup.objectKey, {
    tenantId,
    manifestSha256: backup.manifestSha256,
    checkpointKey: checkpointKey(env),
  });
}

/** The daily backup's tenants: every one with data (ACTIVE or SUSPENDED, on a shard). */
export const dueBackups: FanOut<typeof backupTenantMessage.body> = {
  name: "daily-backups",
  kind: backupTenantMessage,
  body: (tenantId, at) => ({ tenantId, day: dayOf(at) }),
  due: (db, after, limit) =>
    tenantIdsAfter(db, and(inArray(tenants.status, ["ACTIVE", "SUSPENDED"]), isNotNull(tenants.shardId)), after, limit),
};
