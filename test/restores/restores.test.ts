import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { tenantArchives } from "../../src/archives/table";
import { controlDb } from "../../src/db/client";
import { entryData } from "../../src/entries/dataset";
import { contentChecksum } from "../../src/restores/checksum";
import { tenantRestores } from "../../src/restores/table";
import { openStore } from "../../src/shards/connection";
import { getShard } from "../../src/shards/service";
import { tenants } from "../../src/tenants/table";
import { waitForArchive, tenantWithEntries as withEntries } from "../archives/fixture";
import { adminKey, call, captureConsole, createTenant, expectProblem, listAll, settled, tenantKey } from "../helpers";

// Restores in place from a backup, point-in-time restores (in place and into a clone), clones of
// the live tenant and of a backup, on both engines and across them.

type Entry = { id: string; data: Record<string, unknown>; tags: string[]; version: number; created_at: string };
type Restore = {
  id: string;
  kind: string;
  state: string;
  target_tenant_id: string;
  source: { archive_id: string | null; at: string | null };
  feed: { from_seq: number; to_seq: number; replayed_seq: number } | null;
  events_applied: number;
  rows_changed: number;
  checksum: string | null;
  error: string | null;
};

const db = controlDb(env);
let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

const content = (entries: Entry[]) =>
  entries
    .map(({ id, data, tags, created_at }) => ({ id, data, tags, created_at }))
    .sort((a, b) => (a.id < b.id ? -1 : 1));

const entriesOf = async (tenantId: string) =>
  content((await listAll<Entry>(`/v1/tenants/${tenantId}/entries`, admin)).items);

async function write(tenantId: string, key: string, method: string, path: string, body?: unknown) {
  const res = await call(`/v1/tenants/${tenantId}/entries${path}`, { method, key, body });
  expect(res.status, res.text).toBeLessThan(300);
  return res.json;
}

async function backupNow(tenantId: string): Promise<{ id: string }> {
  const res = await call(`/v1/tenants/${tenantId}/backups`, { method: "POST", key: admin });
  expect(res.status, res.text).toBe(202);
  const done = await waitForArchive<{ id: string; state: string }>(
    `/v1/tenants/${tenantId}/backups/${res.json.id}`,
    admin,
  );
  expect(done.state).toBe("completed");
  return done;
}

type FeedEvent = { type: string; seq: number; subject: { id: string } };
const feedOf = async (tenantId: string): Promise<FeedEvent[]> =>
  (await call(`/v1/tenants/${tenantId}/events?limit=100`, { key: admin })).json.data;

const waitForRestore = (tenantId: string, restoreId: string) =>
  waitForArchive<Restore>(`/v1/tenants/${tenantId}/restores/${restoreId}`, admin, 30_000);

/** A tenant on `shardId` with five entries, two of them tagged. */
async function tenantOn(shardId: string) {
  const { tenant, key } = await withEntries(admin, 0, { shard_id: shardId });
  for (let i = 0; i < 5; i++) await write(tenant.id, key.secret, "POST", "", { data: { i }, tags: i < 2 ? ["t"] : [] });
  return { tenant, key: key.secret };
}

/** Changes every way an entry can change: one replaced, one deleted, one created. */
async function changeSome(tenantId: string, key: string, round: string) {
  const [first, second] = (await listAll<Entry>(`/v1/tenants/${tenantId}/entries`, admin)).items;
  await write(tenantId, key, "PUT", `/${first?.id}`, { data: { round }, tags: ["changed"] });
  await write(tenantId, key, "DELETE", `/${second?.id}`);
  await write(tenantId, key, "POST", "", { data: { round, created: true } });
}

describe.each(["d1-shared-1", "pg-0"])("a restore in place on %s", (shardId) => {
  it("makes the entries those of the backup, as ordinary changes with their events, at new versions", async () => {
    const { tenant, key } = await tenantOn(shardId);
    const backup = await backupNow(tenant.id);
    const atBackup = await entriesOf(tenant.id);
    await changeSome(tenant.id, key, "after");
    expect(await entriesOf(tenant.id)).not.toEqual(atBackup);
    await settled(tenant.id);
    const before = await feedOf(tenant.id);

    const res = await call(`/v1/tenants/${tenant.id}/restore-from`, {
      method: "POST",
      key,
      body: { backup_id: backup.id },
    });
    expect(res.status, res.text).toBe(202);
    expect(res.headers.get("Location")).toBe(`/v1/tenants/${tenant.id}/restores/${res.json.id}`);
    const done = await waitForRestore(tenant.id, res.json.id);
    expect(done, JSON.stringify(done)).toMatchObject({ kind: "restore", state: "completed", rows_changed: 3 });
    expect(await entriesOf(tenant.id)).toEqual(atBackup);

    // The feed is not rewound: the restore's three changes follow, and restore.completed.
    await settled(tenant.id);
    const after = await feedOf(tenant.id);
    const added = after.slice(before.length);
    expect(added.map((e) => e.type).sort()).toEqual([
      "entry.created",
      "entry.deleted",
      "entry.replaced",
      "restore.completed",
    ]);
    // The replaced entry is at a version it never had before; its old one no longer matches.
    const replaced = added.find((e) => e.type === "entry.replaced");
    const entry = await call(`/v1/tenants/${tenant.id}/entries/${replaced?.subject.id}`, { key });
    expect(entry.json.version).toBe(3);
    // The staging copy is gone from the shard.
    const row = await db.query.tenantRestores.findFirst({ where: eq(tenantRestores.id, done.id) });
    const shard = await getShard(db, shardId);
    const store = await openStore(env, shard);
    try {
      expect(await store.countRows(entryData, row?.stagingId as string)).toBe(0);
      expect((await contentChecksum(store, tenant.id, 100)).sha256).toBe(done.checksum);
    } finally {
      await store.close();
    }
  });
});

describe("a point-in-time restore", () => {
  async function history(shardId: string) {
    const { tenant, key } = await tenantOn(shardId);
    await backupNow(tenant.id);
    await changeSome(tenant.id, key, "one");
    await scheduler.wait(5);
    const at = new Date().toISOString();
    const atT = await entriesOf(tenant.id);
    await scheduler.wait(5);
    await changeSome(tenant.id, key, "two");
    expect(await entriesOf(tenant.id)).not.toEqual(atT);
    return { tenant, key, at, atT };
  }

  it.each(["d1-shared-1", "pg-0"])("in place on %s gives exactly the state at T", async (shardId) => {
    const { tenant, key, at, atT } = await history(shardId);
    const res = await call(`/v1/tenants/${tenant.id}/restore-to`, {
      method: "POST",
      key,
      body: { at, into: "in-place" },
    });
    expect(res.status, res.text).toBe(202);
    expect(res.json.source).toMatchObject({ archive_id: expect.stringMatching(/^bak_/), at });
    const done = await waitForRestore(tenant.id, res.json.id);
    expect(done, JSON.stringify(done)).toMatchObject({ state: "completed" });
    // The three changes of round one were replayed onto the backup.
    expect(done.events_applied).toBe(3);
    expect(await entriesOf(tenant.id)).toEqual(atT);
  });

  it("into a clone on the other engine gives the state at T under a new tenant", async () => {
    const { tenant, key, at, atT } = await history("d1-shared-1");
    const forbidden = await call(`/v1/tenants/${tenant.id}/restore-to`, {
      method: "POST",
      key,
      body: { at, into: "clone" },
    });
    expectProblem(forbidden, 403, "forbidden");
    const res = await call(`/v1/tenants/${tenant.id}/restore-to`, {
      method: "POST",
      key: admin,
      body: { at, into: "clone" },
    });
    expect(res.status, res.text).toBe(202);
    expect(res.json.tenant).toMatchObject({ status: "RESTORING", tier: tenant.tier });
    const done = await waitForRestore(tenant.id, res.json.restore.id);
    expect(done, JSON.stringify(done)).toMatchObject({ kind: "clone", state: "completed", events_applied: 3 });
    const clone = await call(`/v1/tenants/${done.target_tenant_id}`, { key: admin });
    expect(clone.json).toMatchObject({ status: "ACTIVE" });
    expect(await entriesOf(done.target_tenant_id)).toEqual(atT);
    // The source is untouched.
    expect(await entriesOf(tenant.id)).not.toEqual(atT);
  });

  it("answers 422 for a moment before any backup, and 400 for one that is no timestamp", async () => {
    const { tenant, key } = await tenantOn("d1-shared-1");
    const early = await call(`/v1/tenants/${tenant.id}/restore-to`, {
      method: "POST",
      key,
      body: { at: new Date(Date.now() - 60_000).toISOString(), into: "in-place" },
    });
    expectProblem(early, 422, "unprocessable-entity");
    const none = await call(`/v1/tenants/${tenant.id}/restore-to`, {
      method: "POST",
      key,
      body: { at: new Date().toISOString(), into: "in-place" },
    });
    expectProblem(none, 422, "unprocessable-entity");
    const bad = await call(`/v1/tenants/${tenant.id}/restore-to`, {
      method: "POST",
      key,
      body: { at: "yesterday", into: "in-place" },
    });
    expectProblem(bad, 400, "validation-error");
  });
});

describe("a clone", () => {
  it.each([
    ["d1-shared-1", "pg-0"],
    ["pg-0", "d1-shared-1"],
  ])("of the live tenant on %s onto %s holds its entries, and none of its keys", async (from, to) => {
    const { tenant, key } = await tenantOn(from);
    await changeSome(tenant.id, key, "live");
    const res = await call(`/v1/tenants/${tenant.id}/clone`, {
      method: "POST",
      key: admin,
      body: { name: "Copy", slug: `copy-${tenant.slug}`, shard_id: to },
    });
    expect(res.status, res.text).toBe(202);
    const cloneId = res.json.tenant.id;
    expect(cloneId).not.toBe(tenant.id);
    expect(res.json.tenant).toMatchObject({ shard_id: to, status: "RESTORING" });
    const done = await waitForRestore(tenant.id, res.json.restore.id);
    expect(done, JSON.stringify(done)).toMatchObject({ state: "completed", target_tenant_id: cloneId });
    expect(await entriesOf(cloneId)).toEqual(await entriesOf(tenant.id));
    // Versions travel too: the clone's entries are the source's rows under the new tenant.
    const versions = async (id: string) =>
      (await listAll<Entry>(`/v1/tenants/${id}/entries`, admin)).items.map((e) => [e.id, e.version]);
    expect(await versions(cloneId)).toEqual(await versions(tenant.id));
    const keys = await call(`/v1/tenants/${cloneId}/keys`, { key: admin });
    expect(keys.json.data).toEqual([]);
    // The source's key opens nothing of the clone.
    expectProblem(await call(`/v1/tenants/${cloneId}/entries`, { key }), 404, "not-found");
    const own = await tenantKey(admin, cloneId);
    expect((await call(`/v1/tenants/${cloneId}/entries`, { key: own.secret })).status).toBe(200);
  });

  it("of a backup holds the entries as backed up", async () => {
    const { tenant, key } = await tenantOn("pg-0");
    const backup = await backupNow(tenant.id);
    const atBackup = await entriesOf(tenant.id);
    await changeSome(tenant.id, key, "later");
    const res = await call(`/v1/tenants/${tenant.id}/clone`, {
      method: "POST",
      key: admin,
      body: { name: "From backup", slug: `bk-${tenant.slug}`, backup_id: backup.id },
    });
    expect(res.status, res.text).toBe(202);
    const done = await waitForRestore(tenant.id, res.json.restore.id);
    expect(done.state, JSON.stringify(done)).toBe("completed");
    expect(done.source.archive_id).toBe(backup.id);
    expect(await entriesOf(done.target_tenant_id)).toEqual(atBackup);
  });

  it("is refused to a tenant admin, for a taken slug, and while it is RESTORING its routes answer 409", async () => {
    const { tenant, key } = await tenantOn("d1-shared-1");
    expectProblem(
      await call(`/v1/tenants/${tenant.id}/clone`, { method: "POST", key, body: { name: "x", slug: "x-nope" } }),
      403,
      "forbidden",
    );
    expectProblem(
      await call(`/v1/tenants/${tenant.id}/clone`, {
        method: "POST",
        key: admin,
        body: { name: "x", slug: tenant.slug },
      }),
      409,
      "conflict",
    );
    expectProblem(
      await call(`/v1/tenants/${tenant.id}/clone`, {
        method: "POST",
        key: admin,
        body: { name: "x", slug: "Bad Slug" },
      }),
      400,
      "validation-error",
    );
    const other = await createTenant(admin);
    await db.update(tenants).set({ status: "RESTORING" }).where(eq(tenants.id, other.id));
    expectProblem(await call(`/v1/tenants/${other.id}/entries`, { key: admin }), 409, "tenant-restoring");
    expect((await call(`/v1/tenants/${other.id}`, { key: admin })).json.status).toBe("RESTORING");
  });
});

describe("a restore that cannot finish", () => {
  const warnings = captureConsole("warn");

  it("fails after its tries with restore.failed, leaving no staging copy and no fence", async () => {
    const { tenant, key } = await tenantOn("pg-0");
    const backup = await backupNow(tenant.id);
    const row = await db.query.tenantArchives.findFirst({ where: eq(tenantArchives.id, backup.id) });
    // The backup's object is lost after the backup completed.
    await env.ARCHIVES.delete(row?.objectKey as string);
    const res = await call(`/v1/tenants/${tenant.id}/restore-from`, {
      method: "POST",
      key,
      body: { backup_id: backup.id },
    });
    expect(res.status, res.text).toBe(202);
    const done = await waitForRestore(tenant.id, res.json.id);
    expect(done).toMatchObject({ state: "failed", error: expect.stringMatching(/gone/) });
    const restore = await db.query.tenantRestores.findFirst({ where: eq(tenantRestores.id, done.id) });
    expect(restore?.attempts).toBe(5);
    expect(warnings().mock.calls.filter(([line]) => String(line).includes("restore step failed"))).toHaveLength(5);
    const store = await openStore(env, await getShard(db, "pg-0"));
    try {
      expect(await store.storageOf(restore?.stagingId as string)).toBeNull();
    } finally {
      await store.close();
    }
    await settled(tenant.id);
    expect((await feedOf(tenant.id)).map((e) => e.type)).toContain("restore.failed");
    // Writes go on, and another restore may start.
    await write(tenant.id, key, "POST", "", { data: { after: "failure" } });
    const again = await call(`/v1/tenants/${tenant.id}/restore-from`, {
      method: "POST",
      key,
      body: { backup_id: backup.id },
    });
    expect(again.status, again.text).toBe(202);
    await waitForRestore(tenant.id, again.json.id);
  });
});

describe("restore routes' unhappy paths", () => {
  it("answer 404 for another tenant's backup or restore, 400 for a bad body, 403 without tenant:admin", async () => {
    const { tenant, key } = await tenantOn("d1-shared-1");
    const other = await tenantOn("d1-shared-1");
    const foreign = await backupNow(other.tenant.id);
    expectProblem(
      await call(`/v1/tenants/${tenant.id}/restore-from`, { method: "POST", key, body: { backup_id: foreign.id } }),
      404,
      "not-found",
    );
    expectProblem(
      await call(`/v1/tenants/${other.tenant.id}/restore-from`, {
        method: "POST",
        key,
        body: { backup_id: foreign.id },
      }),
      404,
      "not-found",
    );
    expectProblem(
      await call(`/v1/tenants/${tenant.id}/restore-from`, { method: "POST", key, body: { backup_id: "nope" } }),
      400,
      "validation-error",
    );
    const reader = await tenantKey(admin, tenant.id, ["entries:read"]);
    expectProblem(
      await call(`/v1/tenants/${tenant.id}/restore-from`, {
        method: "POST",
        key: reader.secret,
        body: { backup_id: foreign.id },
      }),
      403,
      "insufficient-scope",
    );
    const res = await call(`/v1/tenants/${other.tenant.id}/restore-from`, {
      method: "POST",
      key: other.key,
      body: { backup_id: foreign.id },
    });
    expect(res.status, res.text).toBe(202);
    expectProblem(await call(`/v1/tenants/${tenant.id}/restores/${res.json.id}`, { key }), 404, "not-found");
    await waitForRestore(other.tenant.id, res.json.id);
    const listed = await call(`/v1/tenants/${other.tenant.id}/restores`, { key: other.key });
    expect(listed.json.data.map((r: Restore) => r.id)).toEqual([res.json.id]);
    expect((await call(`/v1/tenants/${tenant.id}/restores`, { key })).json.data).toEqual([]);
    expectProblem(await call(`/v1/tenants/${tenant.id}/rehydrate`, { method: "POST", key }), 409, "conflict");
    const row = await db.query.tenantArchives.findFirst({ where: eq(tenantArchives.id, foreign.id) });
    expect(row?.tenantId).toBe(other.tenant.id);
  });
});
