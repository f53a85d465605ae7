import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { BlobWriter, Uint8ArrayReader, Uint8ArrayWriter, ZipReader, ZipWriter } from "@zip.js/zip.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiOf, type ServedWorker, serveWorker } from "../served-worker";

// scripts/verify-archive.mjs checks an export's ZIP with Node alone: one downloaded through its
// signed link from the Worker, intact, and changed in the ways a copy can be.

const VERIFIER = new URL("../../scripts/verify-archive.mjs", import.meta.url).pathname;
const run = promisify(execFile);

let worker: ServedWorker;
let zip: Uint8Array;
const dir = mkdtempSync(join(tmpdir(), "archive-"));
const api = apiOf(() => worker);

async function offline(bytes: Uint8Array, name: string) {
  const file = join(dir, name);
  writeFileSync(file, bytes);
  try {
    const { stdout } = await run(process.execPath, [VERIFIER, file]);
    return { code: 0, out: stdout.trim() };
  } catch (error) {
    const failed = error as { code: number; stderr: string };
    return { code: failed.code, out: failed.stderr.trim() };
  }
}

/** The archive rebuilt with `change` applied to each entry's bytes (by name), as another tool would write it. */
async function rezip(change: (name: string, bytes: Uint8Array) => Uint8Array) {
  const reader = new ZipReader(new Uint8ArrayReader(zip));
  const writer = new ZipWriter(new BlobWriter("application/zip"));
  for (const entry of await reader.getEntries()) {
    if (entry.directory) continue;
    const bytes = await entry.getData(new Uint8ArrayWriter());
    await writer.add(entry.filename, new Uint8ArrayReader(change(entry.filename, bytes)));
  }
  await reader.close();
  return new Uint8Array(await (await writer.close()).arrayBuffer());
}

beforeAll(async () => {
  worker = await serveWorker(".wrangler/archive-test/dist");
  const tenant = await api("/v1/tenants", {
    method: "POST",
    body: { name: "Offline", slug: `offline-${Date.now()}`, tier: "FREE", shard_id: "d1-shared-0" },
  });
  for (let i = 0; i < 20; i++) {
    await api(`/v1/tenants/${tenant.json.id}/entries`, { method: "POST", body: { data: { i, text: "x".repeat(i) } } });
  }
  const started = await api(`/v1/tenants/${tenant.json.id}/exports`, { method: "POST" });
  let view = started;
  for (let i = 0; i < 200 && view.json.state !== "completed"; i++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    view = await api(`/v1/tenants/${tenant.json.id}/exports/${started.json.id}`);
  }
  expect(view.json.state).toBe("completed");
  // The link works from anywhere: no key.
  const res = await fetch(view.json.download.url);
  expect(res.status).toBe(200);
  zip = new Uint8Array(await res.arrayBuffer());
}, 120_000);

afterAll(() => worker?.stop());

describe("the offline archive verifier", () => {
  it("accepts the downloaded export", async () => {
    const result = await offline(zip, "intact.zip");
    expect(result.code).toBe(0);
    expect(result.out).toMatch(/^ok: export exp_\w+ of tenant ten_\w+ \(offline-\d+\), format 1, 29 files, \d+ rows/);
  });

  it("refuses a flipped byte in a file's compressed data (CRC-32)", async () => {
    const reader = new ZipReader(new Uint8ArrayReader(zip));
    const entry = (await reader.getEntries()).find((e) => e.filename === "entries.ndjson");
    await reader.close();
    const copy = zip.slice();
    const at = (entry?.offset ?? 0) + 30 + "entries.ndjson".length + 40 + 8;
    copy[at] = (copy[at] as number) ^ 0x01;
    expect(await offline(copy, "flipped.zip")).toMatchObject({
      code: 1,
      out: expect.stringMatching(/entries\.ndjson/),
    });
  });

  it("refuses a changed row whose file was rezipped whole (its SHA-256), and a changed manifest", async () => {
    const row = await rezip((name, bytes) =>
      name === "entries.ndjson"
        ? new TextEncoder().encode(new TextDecoder().decode(bytes).replace('"i":3', '"i":4'))
        : bytes,
    );
    expect(await offline(row, "row.zip")).toEqual({
      code: 1,
      out: "invalid: entries.ndjson does not match its SHA-256",
    });
    const manifest = await rezip((name, bytes) =>
      name === "manifest.json"
        ? new TextEncoder().encode(new TextDecoder().decode(bytes).replace('"rows": 20', '"rows": 21'))
        : bytes,
    );
    expect(await offline(manifest, "manifest.zip")).toEqual({
      code: 1,
      out: "invalid: manifest.json does not match manifest.json.sha256",
    });
  });

  it("refuses what is not an archive", async () => {
    const text = await new ZipWriter(new BlobWriter()).close();
    const empty = await offline(new Uint8Array(await text.arrayBuffer()), "empty.zip");
    expect(empty).toEqual({ code: 1, out: "invalid: no manifest.json" });
    expect((await offline(new TextEncoder().encode("not a zip"), "junk.zip")).code).toBe(1);
  });
});
