import { type ChildProcess, execFile, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import canonicalize from "canonicalize";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// scripts/verify-audit.mjs checks an NDJSON export with Node alone, and agrees with the verify
// route: on an intact trail, and on one tampered with in the database.

const KEY = "offline-verifier-test-key-0123456789abcdef";
const VERIFIER = new URL("../../scripts/verify-audit.mjs", import.meta.url).pathname;
const run = promisify(execFile);

let server: ChildProcess;
let lines: AsyncIterator<string>;
let base: string;
let admin: string;
const dir = mkdtempSync(join(tmpdir(), "audit-"));

async function nextLine(): Promise<string> {
  for (;;) {
    const { value, done } = await lines.next();
    if (done) throw new Error("the Worker's process ended");
    if (value.startsWith("{")) return value;
  }
}

async function api(path: string, init: { method?: string; key?: string; body?: unknown } = {}) {
  const res = await fetch(`${base}${path}`, {
    method: init.method ?? "GET",
    headers: {
      Authorization: `Bearer ${init.key ?? admin}`,
      ...(init.body === undefined ? {} : { "Content-Type": "application/json" }),
    },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  const json =
    /json/.test(res.headers.get("Content-Type") ?? "") && !/ndjson/.test(res.headers.get("Content-Type") ?? "");
  return { status: res.status, text, json: json ? JSON.parse(text) : undefined };
}

/** Runs one statement on a D1 binding of the Worker. */
async function sql(binding: string, statement: string, params: unknown[]) {
  server.stdin?.write(`${JSON.stringify({ binding, sql: statement, params })}\n`);
  const answer = JSON.parse(await nextLine());
  if (!answer.ok) throw new Error(answer.error);
  return answer.changes as number;
}

/** The verifier's answer on a file: its exit code and what it printed. The key goes by --key, or by the environment. */
async function offline(file: string, key = KEY, how: "argument" | "environment" = "argument") {
  try {
    const { stdout } =
      how === "argument"
        ? await run(process.execPath, [VERIFIER, file, "--key", key])
        : await run(process.execPath, [VERIFIER, file], { env: { ...process.env, AUDIT_CHECKPOINT_KEY: key } });
    return { code: 0, out: stdout.trim() };
  } catch (error) {
    const failed = error as { code: number; stdout: string };
    return { code: failed.code, out: failed.stdout.trim() };
  }
}

async function exported(tenantId: string, name: string) {
  const res = await api(`/v1/tenants/${tenantId}/audit/export`);
  expect(res.status).toBe(200);
  const file = join(dir, name);
  writeFileSync(file, res.text);
  return file;
}

beforeAll(async () => {
  const script = new URL("../../scripts/lib/serve-workerd.mjs", import.meta.url).pathname;
  server = spawn(process.execPath, [script, ".wrangler/audit-test/dist"], {
    stdio: ["pipe", "pipe", "inherit"],
    env: { ...process.env, AUDIT_CHECKPOINT_KEY: KEY },
  });
  lines = createInterface({ input: server.stdout as NodeJS.ReadableStream })[Symbol.asyncIterator]();
  ({ baseUrl: base, adminKey: admin } = JSON.parse(await nextLine()));
}, 120_000);

afterAll(() => {
  server?.stdin?.end();
});

describe("the offline verifier", () => {
  it("agrees with the verify route on an intact trail and on one tampered with", async () => {
    const tenant = await api("/v1/tenants", {
      method: "POST",
      body: { name: "Offline", slug: `offline-${Date.now()}`, tier: "FREE", shard_id: "d1-shared-0" },
    });
    expect(tenant.status, tenant.text).toBe(201);
    const tenantId = tenant.json.id as string;
    const key = await api(`/v1/tenants/${tenantId}/keys`, {
      method: "POST",
      body: { name: "writer", scopes: ["entries:write", "entries:read"] },
    });
    for (let i = 0; i < 5; i++) {
      const res = await api(`/v1/tenants/${tenantId}/entries`, {
        method: "POST",
        key: key.json.secret,
        body: { data: { i }, tags: [] },
      });
      expect(res.status).toBe(201);
    }
    // The relay links the records moments after they commit.
    let route = await api(`/v1/tenants/${tenantId}/audit/verify`);
    for (let i = 0; i < 100 && (route.json.pending > 0 || route.json.checked < 6); i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      route = await api(`/v1/tenants/${tenantId}/audit/verify`);
    }
    expect(route.json).toMatchObject({ ok: true, checked: 6, pending: 0 });

    const intact = await exported(tenantId, "intact.ndjson");
    expect(await offline(intact)).toEqual({
      code: 0,
      out: `ok: 6 records linked through seq 6; ${route.json.checkpoints_checked} checkpoints signed and matching`,
    });
    expect(await offline(intact, KEY, "environment")).toMatchObject({ code: 0 });
    expect((await offline(intact, "someone-elses-key-0123456789abcdefgh", "environment")).out).toMatch(
      /^broken at seq \d+: the checkpoint at seq \d+ is not signed with this key/,
    );
    expect((await offline(intact, "someone-elses-key-0123456789abcdefgh")).out).toMatch(
      /^broken at seq \d+: the checkpoint at seq \d+ is not signed with this key/,
    );

    // A record edited in the file alone.
    const text = readFileSync(intact, "utf8").replace('"status":201', '"status":200');
    writeFileSync(join(dir, "edited.ndjson"), text);
    expect((await offline(join(dir, "edited.ndjson"))).out).toMatch(/^broken at seq 1: hash does not match/);

    // A rewrite that relinks every record after the one it edits, checkpoint lines moved to the end
    // to keep them from being compared where they fall: the checkpoints still give it away.
    const lines = readFileSync(intact, "utf8").trim().split("\n");
    let prev = "0".repeat(64);
    const relinked = lines
      .filter((l) => !l.startsWith('{"checkpoint"'))
      .map((l) => {
        const record = JSON.parse(l);
        if (record.seq === 2) record.outcome = { status: 500 };
        const { prev_hash: _, hash: __, ...event } = record;
        const hash = createHash("sha256")
          .update(prev)
          .update(canonicalize(event) as string)
          .digest("hex");
        const line = JSON.stringify({ ...record, prev_hash: prev, hash });
        prev = hash;
        return line;
      });
    const moved = [...relinked, ...lines.filter((l) => l.startsWith('{"checkpoint"'))];
    writeFileSync(join(dir, "moved.ndjson"), `${moved.join("\n")}\n`);
    expect((await offline(join(dir, "moved.ndjson"))).out).toMatch(
      /^broken at seq \d+: (the checkpoint at seq \d+ is out of place|the chain's hash at seq \d+ is not the one its checkpoint signed)/,
    );

    // A record edited in the database: both say where and why.
    expect(
      await sql("SHARD_D1_0", "UPDATE audit_events SET outcome_status = 500 WHERE tenant_id = ? AND seq = 4", [
        tenantId,
      ]),
    ).toBe(1);
    const tampered = await api(`/v1/tenants/${tenantId}/audit/verify`);
    expect(tampered.json.broken).toEqual({ seq: 4, reason: "hash does not match the record's content" });
    const result = await offline(await exported(tenantId, "tampered.ndjson"));
    expect(result.code).toBe(1);
    expect(result.out).toMatch(/^broken at seq 4: hash does not match the record's content/);
  }, 60_000);
});
