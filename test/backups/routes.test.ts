import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { Uint8ArrayReader, ZipReader } from "@zip.js/zip.js";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { tenantArchives } from "../../src/archives/table";
import { controlDb } from "../../src/db/client";
import { newId } from "../../src/http/ids";
import { SCHEDULE, scheduled } from "../../src/jobs/scheduled";
import { waitForArchive, tenantWithEntries as withEntries } from "../archives/fixture";
import { adminKey, call, createTenant, expectProblem, settled, tenantKey, wrongSecret } from "../helpers";

// POST/GET /v1/tenants/:id/backups, validation, keep-N retention and the daily backup.

type Backup = { id: string; state: string; daily: string | null; rows: number | null; feed: unknown };

const db = controlDb(env);
let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

const tenantWithEntries = (tier = "STANDARD", entries = 6) => withEntries(admin, entries, { tier });

const waitForBackup = (tenantId: string, backupId: string) =>
  waitForArchive<Backup>(`/v1/tenants/${tenantId}/backups/${backupId}`, admin);

async function backupNow(tenantId: string, key = admin): Promise<Backup> {
  const res = await call(`/v1/tenants/${tenantId}/backups`, { method: "POST", key });
  expect(res.status, res.text).toBe(202);
  expect(res.headers.get("Location")).toBe(`/v1/tenants/${tenantId}/backups/${res.json.id}`);
  const done = await waitForBackup(tenantId, res.json.id);
  expect(done.state).toBe("completed");
  return done;
}

describe("a backup on demand", () => {
  it("completes with its rows and feed positions, validates, and announces backup.completed", async () => {
    const { tenant, key } = await tenantWithEntries();
    const backup = await backupNow(tenant.id, key.secret);
    expect(backup).toMatchObject({
      daily: null,
      feed: { before_seq: expect.any(Number), after_seq: expect.any(Number) },
    });
    expect(backup.rows).toBeGreaterThan(6);
    const check = await call(`/v1/tenants/${tenant.id}/backups/${backup.id}/validate`, {
      method: "POST",
      key: key.secret,
    });
    expect(check.status, check.text).toBe(200);
    expect(check.json).toMatchObject({ ok: true, problem: null, audit: { checked: expect.any(Number) } });
    expect(check.json.files.map((f: { name: string }) => f.name)).toContain("entries.ndjson");
    await settled(tenant.id);
    const events = await call(`/v1/tenants/${tenant.id}/events?limit=100`, { key: admin });
    const completed = events.json.data.filter((e: { type: string }) => e.type === "backup.completed");
    expect(completed.map((e: { subject: { id: string } }) => e.subject)).toEqual([{ type: "backup", id: backup.id }]);
  });

  it("fails validation once its object is changed", async () => {
    const { tenant } = await tenantWithEntries();
    const backup = await backupNow(tenant.id);
    const row = await db.query.tenantArchives.findFirst({ where: eq(tenantArchives.id, backup.id) });
    const object = (await env.ARCHIVES.get(row?.objectKey as string)) as R2ObjectBody;
    const bytes = new Uint8Array(await object.arrayBuffer());
    // A byte of the entries file's compressed data (past its local header and Zip64 extra field).
    const zip = new ZipReader(new Uint8ArrayReader(bytes));
    const entry = (await zip.getEntries()).find((e) => e.filename === "entries.ndjson");
    await zip.close();
    const at = (entry?.offset ?? 0) + 30 + "entries.ndjson".length + 40 + 8;
    bytes[at] = (bytes[at] as number) ^ 0x01;
    await env.ARCHIVES.put(row?.objectKey as string, bytes);
    const check = await call(`/v1/tenants/${tenant.id}/backups/${backup.id}/validate`, { method: "POST", key: admin });
    expect(check.status).toBe(200);
    expect(check.json).toMatchObject({ ok: false, problem: expect.any(String) });
  });

  it("keeps the plan's backups_kept newest: FREE keeps 3, the oldest expires with its object", async () => {
    const { tenant } = await tenantWithEntries("FREE", 1);
    const made: Backup[] = [];
    for (let i = 0; i < 4; i++) made.push(await backupNow(tenant.id));
    // Pruning follows the fourth backup's completion.
    let list = await call(`/v1/tenants/${tenant.id}/backups?limit=10`, { key: admin });
    for (let i = 0; list.json.data.at(-1)?.state !== "expired" && i < 200; i++) {
      await scheduler.wait(25);
      list = await call(`/v1/tenants/${tenant.id}/backups?limit=10`, { key: admin });
    }
    expect(list.json.data.map((b: Backup) => [b.id, b.state])).toEqual([
      [made[3]?.id, "completed"],
      [made[2]?.id, "completed"],
      [made[1]?.id, "completed"],
      [made[0]?.id, "expired"],
    ]);
    const oldest = await db.query.tenantArchives.findFirst({ where: eq(tenantArchives.id, made[0]?.id as string) });
    expect(await env.ARCHIVES.head(oldest?.objectKey as string)).toBeNull();
    const newest = await db.query.tenantArchives.findFirst({ where: eq(tenantArchives.id, made[3]?.id as string) });
    expect(await env.ARCHIVES.head(newest?.objectKey as string)).not.toBeNull();
    expectProblem(
      await call(`/v1/tenants/${tenant.id}/backups/${made[0]?.id}/validate`, { method: "POST", key: admin }),
      409,
      "conflict",
    );
  }, 60_000);
});

describe("the daily backup", () => {
  it("backs every tenant with data up once a day, whatever runs twice", async () => {
    const { tenant } = await tenantWithEntries("STANDARD", 2);
    const provisioning = await createTenant(admin);
    const run = async (at: number) => {
      const ctx = createExecutionContext();
      await scheduled(createScheduledController({ cron: SCHEDULE.daily.cron, scheduledTime: at }), env, ctx);
      await waitOnExecutionContext(ctx);
    };
    /** The tenant's daily backups once there are `count` and all are completed (or time is up). */
    const dailies = async (tenantId: string, count: number) => {
      const deadline = Date.now() + 20_000;
      for (;;) {
        const rows = await db.query.tenantArchives.findMany({ where: eq(tenantArchives.tenantId, tenantId) });
        const daily = rows.filter((r) => r.dedupeKey?.startsWith("daily:"));
        const done = daily.length >= count && daily.every((r) => r.state === "completed");
        if (done || Date.now() > deadline) return daily;
        await scheduler.wait(50);
      }
    };
    const day1 = Date.UTC(2031, 0, 5, 1, 0, 0);
    await run(day1);
    await run(day1 + 60_000);
    let daily = await dailies(tenant.id, 1);
    // The second run of the day (or a page run twice) makes no second backup.
    await scheduler.wait(500);
    expect(await dailies(tenant.id, 1)).toHaveLength(1);
    expect(daily.map((r) => r.dedupeKey)).toEqual(["daily:2031-01-05"]);
    const view = await call(`/v1/tenants/${tenant.id}/backups/${daily[0]?.id}`, { key: admin });
    expect(view.json).toMatchObject({ state: "completed", daily: "2031-01-05" });

    await run(day1 + 86_400_000);
    daily = await dailies(tenant.id, 2);
    expect(daily.map((r) => r.dedupeKey).sort()).toEqual(["daily:2031-01-05", "daily:2031-01-06"]);
    // Every tenant with data: the other one got its own.
    expect((await dailies(provisioning.id, 2)).length).toBe(2);
  }, 60_000);
});

describe("the backup routes' refusals", () => {
  it("refuse bad ids, other tenants' and unknown backups, keys without tenant:admin", async () => {
    const { tenant } = await tenantWithEntries("STANDARD", 1);
    const other = await tenantWithEntries("STANDARD", 1);
    const theirs = await backupNow(other.tenant.id);
    const reader = await tenantKey(admin, tenant.id, ["entries:read"]);
    expectProblem(await call(`/v1/tenants/${tenant.id}/backups/nope`, { key: admin }), 400, "validation-error");
    expectProblem(await call(`/v1/tenants/${tenant.id}/backups/${theirs.id}`, { key: admin }), 404, "not-found");
    expectProblem(
      await call(`/v1/tenants/${tenant.id}/backups/${theirs.id}/validate`, { method: "POST", key: admin }),
      404,
      "not-found",
    );
    expectProblem(await call(`/v1/tenants/${tenant.id}/backups/${newId("bak")}`, { key: admin }), 404, "not-found");
    expectProblem(await call(`/v1/tenants/${tenant.id}/backups`, { key: reader.secret }), 403, "insufficient-scope");
    expectProblem(
      await call(`/v1/tenants/${tenant.id}/backups`, { method: "POST", key: reader.secret }),
      403,
      "insufficient-scope",
    );
    expectProblem(
      await call(`/v1/tenants/${other.tenant.id}/backups`, {
        method: "POST",
        key: wrongSecret(other.key.secret),
      }),
      401,
      "invalid-api-key",
    );
    expectProblem(await call(`/v1/tenants/${tenant.id}/backups`, { key: other.key.secret }), 404, "not-found");
  });
});
