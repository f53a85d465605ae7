import { beforeAll, describe, expect, it } from "vitest";
import { entryData } from "../../src/entries/dataset";
import { limitedTenant } from "../gate/fixture";
import { adminKey, call, listAll } from "../helpers";
import { type Move, startMove, waitForMove, withShard } from "./fixture";

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

type Known = { version: number; data: Record<string, unknown> };
/** Set by the first client that fails, so the others stop too and the test reports it. */
let failed = false;

/**
 * A client writing its own entries through the API for as long as `running()` holds: creates,
 * replaces and deletes, each replace and delete conditional on the version last acknowledged.
 * It remembers only what was acknowledged, so after the move the tenant must hold exactly that.
 * A 412 or 404 on its own entry would mean an acknowledged write was lost.
 */
async function writer(name: string, path: string, key: string, running: () => boolean) {
  const own = new Map<string, Known>();
  const stats = { acknowledged: 0, fenced: 0, log: [] as number[] };
  for (let i = 0; running() && !failed; i++) {
    const ids = [...own.keys()];
    const target = ids[i % Math.max(1, ids.length)];
    const op = i % 5 < 3 || !target ? "create" : i % 5 === 3 ? "replace" : "delete";
    const data = { writer: name, i };
    let res: Awaited<ReturnType<typeof call>>;
    if (op === "create") res = await call(path, { method: "POST", key, body: { data, tags: [name] } });
    else {
      const known = own.get(target as string) as Known;
      res = await call(`${path}/${target}`, {
        method: op === "replace" ? "PUT" : "DELETE",
        key,
        headers: { "If-Match": `"${known.version}"` },
        body: op === "replace" ? { data, tags: [name, "replaced"] } : undefined,
      });
    }
    if (![200, 201, 204, 503].includes(res.status)) failed = true;
    if (res.status === 503 && res.json?.type?.endsWith("/tenant-moving")) {
      expect(res.headers.get("Retry-After")).toBe("1");
      stats.fenced++;
      await scheduler.wait(5);
      continue;
    }
    expect([op, res.status, res.text]).toEqual([op, op === "create" ? 201 : op === "replace" ? 200 : 204, res.text]);
    if (op === "delete") own.delete(target as string);
    else own.set(res.json.id, { version: res.json.version, data });
    stats.acknowledged++;
    stats.log.push(Date.now());
    // A client's think time; back-to-back requests from the test itself would also starve the
    // runtime's timers (the queue's delivery among them) in the single-threaded local runtime.
    await scheduler.wait(5);
  }
  return { own, stats };
}

/** Reads all along: reads never wait for a move. */
async function reader(path: string, key: string, running: () => boolean) {
  let reads = 0;
  while (running() && !failed) {
    const res = await call(`${path}?limit=5`, { key });
    if (res.status !== 200) failed = true;
    expect(res.status, res.text).toBe(200);
    reads++;
    await scheduler.wait(5);
  }
  return reads;
}

describe.each([
  ["d1-shared-0", "d1-shared-1"],
  ["d1-shared-1", "pg-0"],
  ["pg-0", "d1-shared-0"],
])("moving a tenant online from %s to %s", (source, target) => {
  it("loses no acknowledged write, keeps reads going and leaves nothing behind", { timeout: 90_000 }, async () => {
    const { tenant, key } = await limitedTenant(
      admin,
      { requests_per_minute: 1_000_000, max_concurrency: 1_000 },
      "STANDARD",
      { shard_id: source },
    );
    expect(tenant.shard_id).toBe(source);
    const path = `/v1/tenants/${tenant.id}/entries`;
    // Enough rows for several copy batches (MOVE_BATCH_SIZE is 50 in tests).
    for (let i = 0; i < 4; i++) {
      await Promise.all(
        Array.from({ length: 40 }, (_, j) =>
          call(path, {
            method: "POST",
            key,
            body: { data: { seed: i * 40 + j, nested: { b: 1, a: [2, 3] } }, tags: ["seed"] },
          }),
        ),
      );
    }

    let moving = true;
    let stopAt = Number.POSITIVE_INFINITY;
    const running = () => moving || Date.now() < stopAt;
    const writers = ["w1", "w2", "w3"].map((name) => writer(name, path, key, running));
    // A platform admin's writes pass the same fence.
    const adminWriter = writer("admin", path, admin, running);
    const reads = reader(path, key, running);

    const started = Date.now();
    let switched: Move;
    try {
      const move = await startMove(admin, tenant.id, target);
      expect(move).toMatchObject({ state: "queued", source_shard: source, target_shard: target });
      switched = await waitForMove(
        admin,
        tenant.id,
        move.id,
        (m) => m.switched_at !== null || m.state === "failed",
        60_000,
      );
      // Keep writing a little past the switch: those writes must land on the target.
      stopAt = Date.now() + 300;
    } finally {
      moving = false;
    }
    const results = await Promise.all([...writers, adminWriter]);
    expect(await reads).toBeGreaterThan(0);
    const done: Move = await waitForMove(admin, tenant.id, switched.id);
    expect(done.error).toBeNull();
    expect(done.state).toBe("completed");
    expect(switched.switched_at).not.toBeNull();

    // Writes went on during the move, before and after the switch.
    const switchedAt = Date.parse(done.switched_at as string);
    const log = results.flatMap((r) => r.stats.log);
    expect(log.filter((at) => at > started && at < switchedAt).length).toBeGreaterThan(0);
    expect(log.filter((at) => at > switchedAt).length).toBeGreaterThan(0);

    // Every acknowledged write is there, and nothing else was written by the clients.
    const expected = new Map<string, Known>();
    for (const { own } of results) for (const [id, known] of own) expected.set(id, known);
    const { items } = await listAll(path, key);
    const written = items.filter((entry) => entry.data.writer !== undefined);
    expect(new Map(written.map((entry) => [entry.id, { version: entry.version, data: entry.data }]))).toEqual(expected);
    expect(items.filter((entry) => entry.data.seed !== undefined)).toHaveLength(160);
    expect(items.find((entry) => entry.data.seed === 7)?.data.nested).toEqual({ b: 1, a: [2, 3] });

    // The route names the target; the source holds nothing of the tenant; the counters agree.
    const after = await call(`/v1/tenants/${tenant.id}`, { key: admin });
    expect(after.json.shard_id).toBe(target);
    expect(done.rows_verified).toBeGreaterThanOrEqual(160);
    expect(done.checksum).toMatch(/^[0-9a-f]{64}$/);
    await withShard(source, async (store) => {
      expect(await store.rows(entryData, tenant.id, null, 10)).toEqual([]);
      expect(await store.storageOf(tenant.id)).toBeNull();
    });
    await withShard(target, async (store) => {
      const usage = await store.storageOf(tenant.id);
      expect(usage?.entryCount).toBe(items.length);
      expect(usage?.storedBytes).toBe(items.reduce((sum, entry) => sum + entry.size_bytes, 0));
    });
    // The tag index moved with the rows.
    const tagged = await listAll(`${path}?tag=seed`, key);
    expect(tagged.items).toHaveLength(160);
  });
});
