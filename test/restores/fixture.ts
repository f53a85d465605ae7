import { expect } from "vitest";
import { waitForArchive } from "../archives/fixture";
import { call } from "../helpers";

/** A backup of the tenant, then its entries restored in place from it, both through the API and completed. */
export async function backedUpAndRestored(admin: string, tenantId: string) {
  const backup = await call(`/v1/tenants/${tenantId}/backups`, { method: "POST", key: admin });
  expect(backup.status, backup.text).toBe(202);
  const made = await waitForArchive<{ state: string }>(`/v1/tenants/${tenantId}/backups/${backup.json.id}`, admin);
  expect(made.state).toBe("completed");
  const restore = await call(`/v1/tenants/${tenantId}/restore-from`, {
    method: "POST",
    key: admin,
    body: { backup_id: backup.json.id },
  });
  expect(restore.status, restore.text).toBe(202);
  const done = await waitForArchive<{ state: string }>(`/v1/tenants/${tenantId}/restores/${restore.json.id}`, admin);
  expect(done.state, JSON.stringify(done)).toBe("completed");
  return { backupId: backup.json.id as string, restoreId: restore.json.id as string };
}
