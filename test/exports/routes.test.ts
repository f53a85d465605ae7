import { env, exports } from "cloudflare:workers";
import { Uint8ArrayReader, ZipReader } from "@zip.js/zip.js";
import { eq } from "drizzle-orm";
import { beforeAll, describe, expect, it } from "vitest";
import { downloadPath, signLink } from "../../src/archives/links";
import { expireArchives } from "../../src/archives/retention";
import { tenantArchives } from "../../src/archives/table";
import { controlDb } from "../../src/db/client";
import { newId } from "../../src/http/ids";
import { tenants } from "../../src/tenants/table";
import { waitForArchive, tenantWithEntries as withEntries } from "../archives/fixture";
import { adminKey, call, createTenant, expectProblem, settled, tenantKey } from "../helpers";

// POST/GET /v1/tenants/:id/exports and the signed download link, through the Worker, with the
// lifecycle queue's consumer making the archive.

type Export = {
  id: string;
  state: string;
  rows: number | null;
  bytes: number | null;
  progress: { rows_written: number; rows_expected: number | null };
  manifest_sha256: string | null;
  download: { url: string; expires_at: string; served_by: "worker" | "r2" } | null;
  expires_at: string | null;
};

const db = controlDb(env);
let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

const tenantWithEntries = (entries = 12) => withEntries(admin, entries);

async function startExport(tenantId: string, key: string): Promise<Export> {
  const res = await call(`/v1/tenants/${tenantId}/exports`, { method: "POST", key });
  expect(res.status, res.text).toBe(202);
  expect(res.headers.get("Location")).toBe(`/v1/tenants/${tenantId}/exports/${res.json.id}`);
  return res.json;
}

const waitForExport = (tenantId: string, exportId: string, key: string) =>
  waitForArchive<Export>(`/v1/tenants/${tenantId}/exports/${exportId}`, key);

/** A link fetched through the Worker's own fetch handler, as a browser would: no API key. */
const fetchLink = (url: string, init: RequestInit = {}) => {
  const { pathname, search } = new URL(url);
  return exports.default.fetch(new Request(`http://localhost${pathname}${search}`, init));
};

/** A link's answer read as `call` reads one, for expectProblem. */
async function read(res: Response) {
  const text = await res.text();
  return { status: res.status, headers: res.headers, text, json: text ? JSON.parse(text) : undefined };
}

async function completedExport() {
  const { tenant, key } = await tenantWithEntries();
  const started = await startExport(tenant.id, key.secret);
  const done = await waitForExport(tenant.id, started.id, key.secret);
  expect(done.state, JSON.stringify(done)).toBe("completed");
  return { tenant, key, done };
}

describe("an export", () => {
  it("runs to completed with its rows, size, checksum and a signed link; the ZIP downloads whole", async () => {
    const { tenant, done } = await completedExport();
    expect(done.rows).toBeGreaterThan(12 * 3);
    expect(done.progress.rows_written).toBe(done.rows);
    expect(done.progress.rows_expected).toBeGreaterThanOrEqual(12);
    expect(done.manifest_sha256).toMatch(/^[0-9a-f]{64}$/);
    const link = done.download;
    if (!link) throw new Error("no link");
    const lifetime = Date.parse(link.expires_at) - Date.now();
    expect(lifetime).toBeGreaterThan(9 * 60_000);
    expect(lifetime).toBeLessThanOrEqual(10 * 60_000);
    expect(new URL(link.url).pathname).toBe(downloadPath(tenant.id, done.id));
    // No S3 access is configured here: the Worker serves the link (presigned ones: presigned.node.test.ts).
    expect(link.served_by).toBe("worker");

    const got = await fetchLink(link.url);
    expect(got.status).toBe(200);
    expect(got.headers.get("content-type")).toBe("application/zip");
    expect(got.headers.get("content-disposition")).toMatch(
      new RegExp(`^attachment; filename="${tenant.slug}-export-\\d{4}-\\d{2}-\\d{2}\\.zip"$`),
    );
    expect(got.headers.get("accept-ranges")).toBe("bytes");
    const bytes = new Uint8Array(await got.arrayBuffer());
    expect(bytes.length).toBe(done.bytes);
    expect(got.headers.get("content-length")).toBe(String(done.bytes));
    const zip = new ZipReader(new Uint8ArrayReader(bytes));
    const names = (await zip.getEntries()).map((e) => e.filename);
    expect(names).toContain("entries.ndjson");
    expect(names).toContain("manifest.json");
    await zip.close();
  });

  it("serves byte ranges with 206 and Content-Range, and HEAD without a body", async () => {
    const { done } = await completedExport();
    const url = done.download?.url as string;
    const whole = new Uint8Array(await (await fetchLink(url)).arrayBuffer());
    const part = await fetchLink(url, { headers: { Range: "bytes=10-99" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 10-99/${done.bytes}`);
    expect(part.headers.get("content-length")).toBe("90");
    expect(new Uint8Array(await part.arrayBuffer())).toEqual(whole.slice(10, 100));
    const tail = await fetchLink(url, { headers: { Range: "bytes=-16" } });
    expect(tail.status).toBe(206);
    expect(new Uint8Array(await tail.arrayBuffer())).toEqual(whole.slice(-16));
    const head = await fetchLink(url, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(done.bytes));
    expect(await head.text()).toBe("");
    const outside = await fetchLink(url, { headers: { Range: `bytes=${(done.bytes ?? 0) + 10}-` } });
    // Several ranges, one of them outside, or another unit: the whole file (RFC 9110 lets a server ignore them).
    for (const header of ["bytes=0-10,99999999-", "items=0-1", "bytes=junk"]) {
      const whole2 = await fetchLink(url, { headers: { Range: header } });
      expect(whole2.status, header).toBe(200);
      expect((await whole2.arrayBuffer()).byteLength).toBe(done.bytes);
    }
    expect(outside.headers.get("content-range")).toBe(`bytes */${done.bytes}`);
    expectProblem(await read(outside), 416, "range-not-satisfiable");
  });

  it("announces export.completed in the tenant's feed, from whoever asked", async () => {
    const { tenant, key, done } = await completedExport();
    await settled(tenant.id);
    const res = await call(`/v1/tenants/${tenant.id}/events?limit=100`, { key: key.secret });
    const event = res.json.data.find((e: { type: string }) => e.type === "export.completed");
    expect(event).toMatchObject({
      subject: { type: "export", id: done.id },
      // Columns past the 16th too (the row's JSON is built in several calls).
      data: {
        id: done.id,
        state: "completed",
        rows: done.rows,
        manifest_sha256: done.manifest_sha256,
        expires_at: Date.parse(done.expires_at as string),
        dedupe_key: null,
        request_id: expect.any(String),
      },
      actor: { type: "api_key", id: key.id },
    });
  });

  it("records each download in the tenant's audit trail, once: not a HEAD, not a later part", async () => {
    const { tenant, key, done } = await completedExport();
    const url = done.download?.url as string;
    const headers = { "User-Agent": "export-test/1" };
    expect((await fetchLink(url, { headers })).status).toBe(200);
    expect((await fetchLink(url, { headers: { ...headers, Range: "bytes=20-29" } })).status).toBe(206);
    expect((await fetchLink(url, { method: "HEAD", headers })).status).toBe(200);
    expect((await fetchLink(url, { headers: { ...headers, Range: "bytes=0-9" } })).status).toBe(206);
    await settled(tenant.id);
    const res = await call(`/v1/tenants/${tenant.id}/audit?action=export.downloaded`, { key: key.secret });
    expect(res.status, res.text).toBe(200);
    expect(res.json.data.map((r: { outcome: { status: number } }) => r.outcome.status)).toEqual([206, 200]);
    expect(res.json.data[0]).toMatchObject({
      actor: { type: "download_link", id: null, key_prefix: null },
      targets: [
        { type: "tenant", id: tenant.id },
        { type: "export", id: done.id },
      ],
      context: { user_agent: "export-test/1" },
    });
    const verified = await call(`/v1/tenants/${tenant.id}/audit/verify`, { key: key.secret });
    expect(verified.json.ok).toBe(true);
  });

  it("lists newest first, each completed one with a fresh link", async () => {
    const { tenant, key, done } = await completedExport();
    const second = await startExport(tenant.id, key.secret);
    await waitForExport(tenant.id, second.id, key.secret);
    const res = await call(`/v1/tenants/${tenant.id}/exports?limit=1`, { key: key.secret });
    expect(res.status).toBe(200);
    expect(res.json.data.map((e: Export) => e.id)).toEqual([second.id]);
    expect(res.json.data[0].download.url).toContain(second.id);
    const next = await call(`/v1/tenants/${tenant.id}/exports?limit=1&cursor=${res.json.next_cursor}`, {
      key: key.secret,
    });
    expect(next.json.data.map((e: Export) => e.id)).toEqual([done.id]);
    expect(next.json.next_cursor).toBeNull();
  });
});

describe("a download link", () => {
  let tenantId: string;
  let exportId: string;
  let url: URL;
  beforeAll(async () => {
    const { tenant, done } = await completedExport();
    tenantId = tenant.id;
    exportId = done.id;
    url = new URL(done.download?.url as string);
  });

  const get = (path: string, query: string) => fetchLink(`http://localhost${path}${query}`);

  it("is refused with 403 when its path names another export or tenant", async () => {
    expectProblem(await read(await get(downloadPath(tenantId, newId("exp")), url.search)), 403, "link-invalid");
    expectProblem(await read(await get(downloadPath(newId("ten"), exportId), url.search)), 403, "link-invalid");
  });

  it("is 404 for another tenant's export even when signed for this tenant's path", async () => {
    const { done: theirs } = await completedExport();
    const signed = new URL(
      await signLink(env, "http://localhost", downloadPath(tenantId, theirs.id), Date.now() + 60_000),
    );
    expectProblem(await read(await get(signed.pathname, signed.search)), 404, "not-found");
  });

  it("is refused with 403 when its expiry or signature is changed or missing", async () => {
    const later = new URLSearchParams(url.search);
    later.set("expires", String(Number(later.get("expires")) + 3600));
    expectProblem(await read(await get(url.pathname, `?${later}`)), 403, "link-invalid");
    const forged = new URLSearchParams(url.search);
    const signature = forged.get("signature") as string;
    // The first character: the last one's low bits are base64url padding, which decoding ignores.
    forged.set("signature", `${signature.startsWith("A") ? "B" : "A"}${signature.slice(1)}`);
    expectProblem(await read(await get(url.pathname, `?${forged}`)), 403, "link-invalid");
    expectProblem(await read(await get(url.pathname, "")), 403, "link-invalid");
    expectProblem(await read(await get(url.pathname, `?expires=abc&signature=${signature}`)), 403, "link-invalid");
  });

  it("is 410 once expired, with a valid signature", async () => {
    const expired = new URL(await signLink(env, "http://localhost", url.pathname, Date.now() - 1000));
    expectProblem(await read(await get(expired.pathname, expired.search)), 410, "link-expired");
  });

  it("is 404 once the tenant is deleted", async () => {
    const { tenant, done } = await completedExport();
    const link = new URL(done.download?.url as string);
    expect((await get(link.pathname, link.search)).status).toBe(200);
    expect((await call(`/v1/tenants/${tenant.id}`, { method: "DELETE", key: admin })).status).toBe(202);
    expectProblem(await read(await get(link.pathname, link.search)), 404, "not-found");
  });

  it("is 410 export-expired once the export's retention has passed, and its file is gone", async () => {
    const { tenant, key, done } = await completedExport();
    const link = new URL(done.download?.url as string);
    const later = Date.now() + 8 * 86_400_000;
    expect(await expireArchives(db, env, later)).toBeGreaterThanOrEqual(1);
    const row = await db.query.tenantArchives.findFirst({ where: eq(tenantArchives.id, done.id) });
    expect(row?.state).toBe("expired");
    expect(await env.ARCHIVES.head(row?.objectKey as string)).toBeNull();
    expectProblem(await read(await get(link.pathname, link.search)), 410, "export-expired");
    const view = await call(`/v1/tenants/${tenant.id}/exports/${done.id}`, { key: key.secret });
    expect(view.json).toMatchObject({ state: "expired", download: null });
  });
});

describe("the export routes' refusals", () => {
  it("refuse bad ids, other tenants, keys without tenant:admin, and a second export under way", async () => {
    const { tenant, key } = await tenantWithEntries(1);
    const other = await createTenant(admin);
    expectProblem(await call(`/v1/tenants/${tenant.id}/exports/nope`, { key: key.secret }), 400, "validation-error");
    expectProblem(
      await call(`/v1/tenants/${tenant.id}/exports/${newId("exp")}`, { key: key.secret }),
      404,
      "not-found",
    );
    expectProblem(await call(`/v1/tenants/${other.id}/exports`, { method: "POST", key: key.secret }), 404, "not-found");
    expectProblem(await call(`/v1/tenants/${other.id}/exports`, { key: key.secret }), 404, "not-found");
    const reader = await tenantKey(admin, tenant.id, ["entries:read"]);
    expectProblem(
      await call(`/v1/tenants/${tenant.id}/exports`, { method: "POST", key: reader.secret }),
      403,
      "insufficient-scope",
    );
    expectProblem(await call(`/v1/tenants/${tenant.id}/exports`, { key: reader.secret }), 403, "insufficient-scope");
    expectProblem(await call(`/v1/tenants/${tenant.id}/exports`, { method: "POST" }), 401, "unauthenticated");

    // Another tenant's export id through this tenant's path is 404, like an unknown one.
    const theirs = await startExport(other.id, admin);
    expectProblem(await call(`/v1/tenants/${tenant.id}/exports/${theirs.id}`, { key: key.secret }), 404, "not-found");

    // One export at a time: a second one while the first is under way is 409, naming it.
    await db.update(tenantArchives).set({ state: "writing" }).where(eq(tenantArchives.id, theirs.id));
    const again = await call(`/v1/tenants/${other.id}/exports`, { method: "POST", key: admin });
    expectProblem(again, 409, "conflict");
    expect(again.json.export_id).toBe(theirs.id);
  });

  it("refuse a tenant that is not provisioned", async () => {
    const tenant = await createTenant(admin);
    await db.update(tenants).set({ status: "PROVISION_ERROR" }).where(eq(tenants.id, tenant.id));
    expectProblem(
      await call(`/v1/tenants/${tenant.id}/exports`, { method: "POST", key: admin }),
      409,
      "tenant-not-ready",
    );
  });
});
