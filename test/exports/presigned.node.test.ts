import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiOf, type ServedWorker, serveWorker } from "../served-worker";

// With the archives bucket's S3 access configured, an export's link is a presigned R2 URL. The
// oracle is the S3 endpoint the local runtime serves for the bucket (/cdn-cgi/local/r2/s3), which
// checks SigV4 signatures and expiries as R2 does: the bytes come from it, not from the Worker.

const VERIFIER = new URL("../../scripts/verify-archive.mjs", import.meta.url).pathname;
const CREDENTIALS = { accessKeyId: "test-r2-access-key", secretAccessKey: "test-r2-secret-access-key" };
const LINK_SECONDS = 4;

let worker: ServedWorker;
let tenantId: string;
let exportId: string;
let tenantAdmin: string;
const api = apiOf(() => worker);

/** A port nothing listens on now: the Worker's S3 endpoint setting must name it before it starts. */
async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, "127.0.0.1", resolve));
  const { port } = probe.address() as { port: number };
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

/** A fresh link to the export, as its tenant admin gets it. */
async function link(): Promise<{ url: string; expires_at: string; served_by: string }> {
  const view = await api(`/v1/tenants/${tenantId}/exports/${exportId}`, { key: tenantAdmin });
  expect(view.status).toBe(200);
  return view.json.download;
}

beforeAll(async () => {
  const port = await freePort();
  worker = await serveWorker(".wrangler/presigned-test/dist", {
    port,
    s3Credentials: CREDENTIALS,
    bindings: {
      R2_S3_ENDPOINT: `http://127.0.0.1:${port}/cdn-cgi/local/r2/s3`,
      R2_S3_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
      R2_S3_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
      EXPORT_LINK_SECONDS: String(LINK_SECONDS),
    },
  });
  const slug = `presigned-${Date.now()}`;
  const tenant = await api("/v1/tenants", {
    method: "POST",
    body: { name: "Presigned", slug, tier: "STANDARD", shard_id: "d1-shared-0" },
  });
  tenantId = tenant.json.id;
  const key = await api(`/v1/tenants/${tenantId}/keys`, {
    method: "POST",
    body: { name: "admin", scopes: ["tenant:admin", "entries:write"] },
  });
  tenantAdmin = key.json.secret;
  for (let i = 0; i < 12; i++) {
    await api(`/v1/tenants/${tenantId}/entries`, { method: "POST", key: tenantAdmin, body: { data: { i } } });
  }
  const started = await api(`/v1/tenants/${tenantId}/exports`, { method: "POST", key: tenantAdmin });
  exportId = started.json.id;
  let view = started;
  for (let i = 0; i < 200 && view.json.state !== "completed"; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
    view = await api(`/v1/tenants/${tenantId}/exports/${exportId}`, { key: tenantAdmin });
  }
  expect(view.json.state).toBe("completed");
}, 180_000);

afterAll(() => worker?.stop());

describe("presigned R2 download links", { timeout: 30_000 }, () => {
  it("are R2's URLs, and R2 serves the export's ZIP through them: whole, as a range, named", async () => {
    const download = await link();
    expect(download.served_by).toBe("r2");
    const url = new URL(download.url);
    expect(url.pathname).toMatch(
      new RegExp(`^/cdn-cgi/local/r2/s3/edge-tenancy-archives/exports/${tenantId}/${exportId}-[0-9a-f]{8}\\.zip$`),
    );
    expect(url.searchParams.get("X-Amz-Expires")).toBe(String(LINK_SECONDS));
    expect(Date.parse(download.expires_at) - Date.now()).toBeLessThanOrEqual(LINK_SECONDS * 1000);

    const whole = await fetch(download.url);
    expect(whole.status).toBe(200);
    expect(whole.headers.get("content-type")).toBe("application/zip");
    expect(whole.headers.get("content-disposition")).toMatch(
      /^attachment; filename="presigned-\d+-export-\d{4}-\d{2}-\d{2}\.zip"$/,
    );
    const bytes = new Uint8Array(await whole.arrayBuffer());
    const view = await api(`/v1/tenants/${tenantId}/exports/${exportId}`, { key: tenantAdmin });
    expect(bytes.byteLength).toBe(view.json.bytes);
    // The offline verifier takes it as the export the API describes.
    const file = join(mkdtempSync(join(tmpdir(), "presigned-")), "export.zip");
    writeFileSync(file, bytes);
    const { stdout } = await promisify(execFile)(process.execPath, [VERIFIER, file]);
    expect(stdout).toContain(view.json.manifest_sha256);

    const part = await fetch(download.url, { headers: { Range: "bytes=0-3" } });
    expect(part.status).toBe(206);
    expect([...new Uint8Array(await part.arrayBuffer())]).toEqual([0x50, 0x4b, 0x03, 0x04]);
  });

  it("refuse a changed signature, another object's key and a moved expiry; R2 answers 403", async () => {
    const download = await link();
    const url = new URL(download.url);
    const signature = url.searchParams.get("X-Amz-Signature") as string;
    const changed = new URL(url);
    changed.searchParams.set("X-Amz-Signature", `${signature.slice(0, -1)}${signature.endsWith("0") ? "1" : "0"}`);
    const otherKey = new URL(url);
    otherKey.pathname = url.pathname.replace(
      exportId,
      exportId.replace(/.$/, (c) => (c === "A" ? "B" : "A")),
    );
    const longer = new URL(url);
    longer.searchParams.set("X-Amz-Expires", String(LINK_SECONDS * 100));
    for (const tampered of [changed, otherKey, longer]) {
      const res = await fetch(tampered);
      expect(res.status, tampered.toString()).toBe(403);
      await res.body?.cancel();
    }
    expect((await fetch(download.url)).status).toBe(200);
  });

  it("expire after EXPORT_LINK_SECONDS", async () => {
    const download = await link();
    const wait = Date.parse(download.expires_at) - Date.now() + 1_500;
    await new Promise((resolve) => setTimeout(resolve, wait));
    const res = await fetch(download.url);
    expect(res.status).toBe(403);
    expect(await res.text()).toContain("ExpiredRequest");
  });

  it("are recorded in the tenant's audit trail when handed out, naming the export", async () => {
    const auditor = await api(`/v1/tenants/${tenantId}/keys`, {
      method: "POST",
      body: { name: "auditor", scopes: ["tenant:admin"] },
    });
    const key = auditor.json.secret as string;
    expect((await api(`/v1/tenants/${tenantId}/exports/${exportId}`, { key })).json.download.served_by).toBe("r2");
    expect((await api(`/v1/tenants/${tenantId}/exports`, { key })).json.data[0].download.served_by).toBe("r2");
    const issued = async () => {
      const trail = await api(`/v1/tenants/${tenantId}/audit?action=export.link_issued&actor=${auditor.json.id}`, {
        key: tenantAdmin,
      });
      expect(trail.status, JSON.stringify(trail.json)).toBe(200);
      return trail.json.data as { targets: { type: string; id: string }[]; context: { request_id: string } }[];
    };
    let records = await issued();
    for (let i = 0; i < 100 && records.length < 2; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      records = await issued();
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    records = await issued();
    // One record per request that handed links out (the GET, the list), each naming the export.
    expect(records.length).toBe(2);
    for (const record of records) expect(record.targets).toContainEqual({ type: "export", id: exportId });
  });
});
