import { env } from "cloudflare:workers";
import { Uint8ArrayReader, ZipReader } from "@zip.js/zip.js";
import { beforeAll, describe, expect, it } from "vitest";
import { checksumLine, MANIFEST_CHECKSUM_FILE, MANIFEST_FILE, Manifest } from "../../src/archives/format";
import { importShardData } from "../../src/archives/import";
import { ArchiveInvalid, openArchive } from "../../src/archives/reader";
import { archivedDatasets, datasetPages, type TenantSources } from "../../src/archives/rows";
import { validateArchive } from "../../src/archives/validate";
import { writeArchive } from "../../src/archives/writer";
import { checkpointKey } from "../../src/audit/checkpoints";
import type { CanonicalRow } from "../../src/datasets/canonical";
import { controlDb } from "../../src/db/client";
import { newId } from "../../src/http/ids";
import { summarize } from "../../src/moves/transfer";
import { openStore } from "../../src/shards/connection";
import { getShard } from "../../src/shards/service";
import { getTenant } from "../../src/tenants/service";
import { adminKey, call, createTenant, settled, tenantKey } from "../helpers";

// The archive format on real R2: what goes in comes out, byte for byte and row for row, and
// anything changed on the way is caught.

const db = controlDb(env);
let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

/** A tenant on `shardId` with users, keys, entries (some replaced, some deleted) and a trail. */
async function busyTenant(shardId: string, entries = 40) {
  const created = await createTenant(admin, { shard_id: shardId });
  const key = await tenantKey(admin, created.id);
  await call(`/v1/tenants/${created.id}/users`, {
    method: "POST",
    key: admin,
    body: { email: `${newId("usr")}@example.com`, name: "Ada", role: "MEMBER" },
  });
  const ids: string[] = [];
  for (let i = 0; i < entries; i++) {
    const res = await call(`/v1/tenants/${created.id}/entries`, {
      method: "POST",
      key: key.secret,
      body: { data: { i, text: "é ✓ \u2028" }, tags: [`t${i % 3}`] },
    });
    expect(res.status, res.text).toBe(201);
    ids.push(res.json.id);
  }
  await call(`/v1/tenants/${created.id}/entries/${ids[0]}`, {
    method: "PUT",
    key: key.secret,
    body: { data: { replaced: true }, tags: [] },
  });
  await call(`/v1/tenants/${created.id}/entries/${ids[1]}`, { method: "DELETE", key: key.secret });
  await settled(created.id);
  const tenant = await getTenant(db, created.id);
  const shard = await getShard(db, tenant.shardId as string);
  return { tenant, shard };
}

async function archiveOf(shardId: string, pageRows = 7) {
  const { tenant, shard } = await busyTenant(shardId);
  const store = await openStore(env, shard);
  const sources: TenantSources = { env, db, store, tenantId: tenant.id, pageRows };
  const archiveId = newId("exp");
  const written = await writeArchive(sources, {
    kind: "export",
    archiveId,
    key: `exports/${tenant.id}/${archiveId}.zip`,
    tenant,
    shard,
  });
  return { tenant, shard, store, sources, written };
}

async function rowsOf(sources: TenantSources) {
  const all: Record<string, CanonicalRow[]> = {};
  for (const dataset of archivedDatasets()) {
    all[dataset.name] = [];
    for await (const page of datasetPages(sources, dataset)) all[dataset.name]?.push(...page);
  }
  return all;
}

const bytesOf = async (key: string) =>
  new Uint8Array(await ((await env.ARCHIVES.get(key)) as R2ObjectBody).arrayBuffer());

describe.each(["d1-shared-0", "pg-0"])("an archive of a tenant on %s", (shardId) => {
  it("holds every dataset's rows exactly, and a manifest that says so", async () => {
    const { tenant, shard, store, sources, written } = await archiveOf(shardId);
    try {
      const archive = await openArchive(env.ARCHIVES, written.key, written.manifestSha256);
      const { manifest } = archive;
      expect(Manifest.parse(manifest)).toEqual(manifest);
      expect(manifest).toMatchObject({
        format: "edge-tenancy-archive",
        format_version: 1,
        kind: "export",
        tenant: { id: tenant.id, slug: tenant.slug, tier: tenant.tier, region: tenant.dataRegion },
        source: { shard_id: shard.id, engine: shard.engine },
        derived: ["entry-tags", "shard-registration"],
      });
      expect(manifest.files.map((f) => f.dataset)).toEqual(archivedDatasets().map((d) => d.name));
      const expected = await rowsOf(sources);
      // The relay's bookkeeping may have moved on since (a record linked, an event published), and
      // the gate may hold a relay pass's admitted write in flight (admin_writes, gone a moment later).
      const settledOnly = (rows: CanonicalRow[] = []) =>
        rows
          .filter((row) => row.table !== "admin_writes")
          .map(({ prev_hash: _, hash: __, published_at: ___, ...row }) => row);
      const archived: Record<string, CanonicalRow[]> = {};
      for (const file of manifest.files) {
        const rows: CanonicalRow[] = [];
        for await (const row of archive.rows(file)) rows.push(row);
        expect(settledOnly(rows), file.name).toEqual(settledOnly(expected[file.dataset]));
        expect(file.rows).toBe(rows.length);
        archived[file.dataset] = rows;
      }
      // 40 entries, one deleted; three events per entry at most; the trail has every request.
      expect(expected.entries).toHaveLength(39);
      expect(expected.users?.length).toBe(1);
      expect(manifest.feed.after_seq).toBeGreaterThanOrEqual(manifest.feed.before_seq);
      expect(manifest.feed.before_seq).toBe(Math.max(...(expected.events ?? []).map((e) => Number(e.seq))));
      const lastLinked = (archived["audit-events"] ?? []).filter((r) => r.hash !== null).at(-1);
      expect(manifest.audit_chain_head).toEqual({ seq: lastLinked?.seq, hash: lastLinked?.hash });
      // No secret leaves: key rows lack their hash, and the gate's cached copy of the keys is out.
      expect(JSON.stringify(expected["api-keys"])).not.toContain("secret_hash");
      expect((expected["gate-state"] ?? []).map((line) => line.table)).not.toContain("copy");
      await archive.close();
    } finally {
      await store.close();
    }
  });

  it("is a plain ZIP whose manifest matches its detached checksum", async () => {
    const { store, written } = await archiveOf(shardId);
    await store.close();
    const zip = new ZipReader(new Uint8ArrayReader(await bytesOf(written.key)));
    const entries = await zip.getEntries();
    const names = entries.map((e) => e.filename);
    expect(names.slice(-2)).toEqual([MANIFEST_FILE, MANIFEST_CHECKSUM_FILE]);
    const text = async (name: string) => {
      const entry = entries.find((e) => e.filename === name);
      if (!entry || entry.directory) throw new Error(`no ${name}`);
      const { TextWriter } = await import("@zip.js/zip.js");
      return entry.getData(new TextWriter());
    };
    const manifestText = await text(MANIFEST_FILE);
    const digest = Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(manifestText)));
    expect(await text(MANIFEST_CHECKSUM_FILE)).toBe(checksumLine(digest.toString("hex")));
    expect(digest.toString("hex")).toBe(written.manifestSha256);
    await zip.close();
  });

  it("validates, then imports onto a shard of the other engine equal by checksum", async () => {
    const { tenant, store, written } = await archiveOf(shardId, 5);
    const other = await getShard(db, shardId === "pg-0" ? "d1-shared-1" : "pg-0");
    const target = await openStore(env, other);
    try {
      const check = await validateArchive(env.ARCHIVES, written.key, {
        tenantId: tenant.id,
        manifestSha256: written.manifestSha256,
        checkpointKey: checkpointKey(env),
      });
      expect(check).toMatchObject({ ok: true, problem: null });
      // Every request of the tenant's (keys, users, 42 entry writes) is in the trail; some may not be linked yet.
      expect((check.audit?.checked ?? 0) + (check.audit?.pending ?? 0)).toBeGreaterThan(42);
      const archive = await openArchive(env.ARCHIVES, written.key, written.manifestSha256);
      await importShardData(archive, target, { from: tenant.id, into: tenant.id, pageRows: 4 });
      await archive.close();
      const [there, here] = await Promise.all([summarize(store, tenant.id, 50), summarize(target, tenant.id, 50)]);
      expect(here.datasets).toEqual(there.datasets);
      expect(here.rows).toBeGreaterThan(100);
      expect(await target.storageOf(tenant.id)).toMatchObject({
        entryCount: 39,
        storedBytes: (await store.storageOf(tenant.id))?.storedBytes,
      });
      expect((await target.listEntries(tenant.id, { tag: "t1" }, { limit: 100 })).items).toEqual(
        (await store.listEntries(tenant.id, { tag: "t1" }, { limit: 100 })).items,
      );
    } finally {
      await target.purgeTenant(tenant.id, 10_000);
      await target.close();
      await store.close();
    }
  });
});

describe("a changed archive", () => {
  let written: Awaited<ReturnType<typeof archiveOf>>["written"];
  let tenantId: string;
  beforeAll(async () => {
    const made = await archiveOf("d1-shared-1");
    await made.store.close();
    written = made.written;
    tenantId = made.tenant.id;
  });

  async function validateCopy(change: (bytes: Uint8Array) => Uint8Array, recorded: string | null = null) {
    const key = `tests/${newId("exp")}.zip`;
    await env.ARCHIVES.put(key, change(await bytesOf(written.key)));
    return validateArchive(env.ARCHIVES, key, {
      tenantId,
      manifestSha256: recorded,
      checkpointKey: checkpointKey(env),
    });
  }

  it("is valid untouched", async () => {
    expect((await validateCopy((bytes) => bytes, written.manifestSha256)).ok).toBe(true);
  });

  it("fails validation with one byte of compressed data flipped (CRC-32)", async () => {
    // Inside the entries file's compressed data: past its local header, well before the next file.
    const zip = new ZipReader(new Uint8ArrayReader(await bytesOf(written.key)));
    const entry = (await zip.getEntries()).find((e) => e.filename === "entries.ndjson");
    await zip.close();
    const at = (entry?.offset ?? 0) + 30 + "entries.ndjson".length + 40 + 16;
    const check = await validateCopy((bytes) => {
      bytes[at] = (bytes[at] as number) ^ 0x01;
      return bytes;
    });
    expect(check.ok).toBe(false);
    expect(check.problem).toMatch(/entries\.ndjson/);
  });

  it("fails when cut short, or when the manifest is not the one recorded", async () => {
    const cut = await validateCopy((bytes) => bytes.slice(0, bytes.length - 100));
    expect(cut).toMatchObject({ ok: false, problem: expect.stringMatching(/ZIP/) });
    const other = await validateCopy((bytes) => bytes, "0".repeat(64));
    expect(other).toMatchObject({ ok: false, problem: expect.stringMatching(/not the one recorded/) });
  });

  it("is refused as another tenant's", async () => {
    const key = `tests/${newId("exp")}.zip`;
    await env.ARCHIVES.put(key, await bytesOf(written.key));
    const check = await validateArchive(env.ARCHIVES, key, {
      tenantId: newId("ten"),
      manifestSha256: null,
      checkpointKey: checkpointKey(env),
    });
    expect(check).toMatchObject({ ok: false, problem: "The archive is another tenant's" });
  });

  it("streams rows only up to where a file breaks, then throws ArchiveInvalid", async () => {
    const archive = await openArchive(env.ARCHIVES, written.key);
    const file = archive.manifest.files.find((f) => f.dataset === "entries");
    if (!file) throw new Error("no entries file");
    const wrong = { ...file, sha256: "0".repeat(64) };
    let seen = 0;
    await expect(
      (async () => {
        for await (const _ of archive.rows(wrong)) seen++;
      })(),
    ).rejects.toBeInstanceOf(ArchiveInvalid);
    // The last row is held back until the whole file has been checked.
    expect(seen).toBe(file.rows - 1);
    await archive.close();
  });
});
