import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { entryData } from "../../src/entries/dataset";
import { AppError } from "../../src/http/problems";
import { d1Store } from "../../src/shards/d1-store";
import type { ShardStore } from "../../src/shards/store";
import { type Calls, watched } from "../../src/shards/watched";

// What the shard middleware reports to the tenant's circuit: every call a handler makes, on the
// store itself or on its feed and trail.

describe("a watched store", () => {
  it("notes the calls of the feed and the trail as it notes the store's own", async () => {
    const runs: ((store: ShardStore) => Promise<unknown>)[] = [
      (store) => store.countRows(entryData, "ten_x"),
      (store) => store.feed.page("ten_x", 0, 1),
      (store) => store.trail.walk("ten_x", 0, 1),
    ];
    for (const run of runs) {
      const calls: Calls = { called: false, failed: false };
      const store = watched(d1Store(env.SHARD_D1_0), calls);
      expect(calls.called).toBe(false);
      await run(store);
      expect(calls).toEqual({ called: true, failed: false });
    }
  });

  it("counts a shard failing on the trail as a failure, and a domain answer not", async () => {
    const calls: Calls = { called: false, failed: false };
    const broken = d1Store(env.SHARD_D1_0);
    const store = watched(
      {
        ...broken,
        trail: {
          ...broken.trail,
          walk: () => Promise.reject(new Error("D1_ERROR: the shard is gone")),
          search: () => Promise.reject(new AppError("not-found", "no such record")),
        },
      },
      calls,
    );
    await expect(store.trail.search(null, {}, null, 1)).rejects.toThrow("no such record");
    expect(calls).toEqual({ called: true, failed: false });
    await expect(store.trail.walk(null, 0, 1)).rejects.toThrow("the shard is gone");
    expect(calls).toEqual({ called: true, failed: true });
  });
});
