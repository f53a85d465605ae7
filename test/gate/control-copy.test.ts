import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { ControlCopy, type ControlData, type StoredCopy } from "../../src/gate/control-copy";
import type { GateKey } from "../../src/keys/service";
import { makeRoute } from "../../src/routing/route";

const T0 = Date.UTC(2030, 0, 10, 12, 0, 0);
const STALENESS_MS = 5_000;

const keyOf = (id: string): GateKey => ({
  id,
  userId: null,
  secretHash: "ab".repeat(32),
  scopes: ["entries:read"],
  expiresAt: null,
  revokedAt: null,
  rateLimitPerMinute: null,
  userRole: null,
});

const routeOf = (tier = "STANDARD") =>
  makeRoute({
    tenantId: "ten_1",
    status: "ACTIVE",
    tier,
    shard: null,
    limits: {
      requestsPerMinute: 10,
      maxConcurrency: 2,
      monthlyRequests: null,
      maxEntries: null,
      maxStorageBytes: null,
    },
  });

/**
 * A copy over a control database the test controls: `db` is what it answers (keys filtered to
 * those asked for), `failing` makes it reject, and `hold` keeps reads pending until `releaseAll`.
 */
function harness() {
  const db = { route: routeOf(), keys: [keyOf("key_a"), keyOf("key_b")], failing: false, hold: false };
  const reads: { tenantId: string; keyIds: string[] }[] = [];
  const saves: StoredCopy[] = [];
  const held: (() => void)[] = [];
  const copy = new ControlCopy({
    maxStalenessMs: STALENESS_MS,
    read: async (tenantId, keyIds): Promise<ControlData> => {
      reads.push({ tenantId, keyIds });
      // What the database holds when the read starts: a change made while it is held is not seen.
      const data = { route: db.route, keys: db.keys.filter((key) => keyIds.includes(key.id)) };
      const failing = db.failing;
      if (db.hold) await new Promise<void>((resolve) => held.push(resolve));
      if (failing) throw new Error("control database down");
      return data;
    },
    save: (stored) => saves.push(stored),
  });
  const releaseAll = async () => {
    for (const resolve of held.splice(0)) resolve();
    await new Promise((resolve) => setTimeout(resolve, 0));
  };
  return { db, reads, saves, copy, releaseAll };
}

const at = (ms: number) => vi.setSystemTime(T0 + ms);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["Date"] });
  at(0);
  vi.spyOn(console, "warn").mockImplementation(() => undefined);
});

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

describe("ControlCopy: freshness", () => {
  it("reads once, then serves the copy without asking while it is fresh", async () => {
    const { reads, saves, copy } = harness();
    await copy.ensureFresh("ten_1", "key_a");
    at(STALENESS_MS);
    await copy.ensureFresh("ten_1", "key_a");
    expect(reads).toEqual([{ tenantId: "ten_1", keyIds: ["key_a"] }]);
    expect(copy.route?.tier).toBe("STANDARD");
    expect(copy.key("key_a")?.id).toBe("key_a");
    expect(copy.stale).toBe(false);
    expect(saves).toEqual([{ tenantId: "ten_1", route: copy.route, keys: [keyOf("key_a")] }]);
  });

  it("reads again once the copy is older than its staleness bound, asking for every key it holds", async () => {
    const { db, reads, copy } = harness();
    await copy.ensureFresh("ten_1", "key_a");
    db.route = routeOf("PREMIUM");
    at(STALENESS_MS + 1);
    await copy.ensureFresh("ten_1");
    expect(reads.map((read) => read.keyIds)).toEqual([["key_a"], ["key_a"]]);
    expect(copy.route?.tier).toBe("PREMIUM");
  });

  it("reads at once for a key the copy lacks, with the keys it holds", async () => {
    const { reads, copy } = harness();
    await copy.ensureFresh("ten_1", "key_a");
    await copy.ensureFresh("ten_1", "key_b");
    expect(reads.map((read) => read.keyIds)).toEqual([["key_a"], ["key_a", "key_b"]]);
    expect(copy.key("key_b")?.id).toBe("key_b");
  });

  it("reads for another tenant than the copy's at once", async () => {
    const { reads, copy } = harness();
    await copy.ensureFresh("ten_1");
    await copy.ensureFresh("ten_2");
    expect(reads.map((read) => read.tenantId)).toEqual(["ten_1", "ten_2"]);
  });
});

describe("ControlCopy: a failing control database", () => {
  it("serves the copy it holds, stale, and asks again only after a second", async () => {
    const { db, reads, copy } = harness();
    await copy.ensureFresh("ten_1", "key_a");
    db.failing = true;
    at(STALENESS_MS + 1);
    await copy.ensureFresh("ten_1", "key_a");
    expect(copy.stale).toBe(true);
    expect(copy.key("key_a")?.id).toBe("key_a");
    at(STALENESS_MS + 1 + 999);
    await copy.ensureFresh("ten_1", "key_a");
    expect(reads).toHaveLength(2);
    at(STALENESS_MS + 1 + 1_000);
    db.failing = false;
    await copy.ensureFresh("ten_1", "key_a");
    expect(reads).toHaveLength(3);
    expect(copy.stale).toBe(false);
  });

  it("keeps asking for a key it lacks, back-off or not", async () => {
    const { db, reads, copy } = harness();
    await copy.ensureFresh("ten_1", "key_a");
    db.failing = true;
    await copy.ensureFresh("ten_1", "key_b");
    await copy.ensureFresh("ten_1", "key_b");
    expect(reads).toHaveLength(3);
    expect(copy.key("key_b")).toBeUndefined();
    expect(copy.stale).toBe(true);
  });

  it("serves a restored copy after a restart, unconfirmed until a read succeeds", async () => {
    const { db, reads, copy } = harness();
    db.failing = true;
    copy.restore("ten_1", routeOf("PREMIUM"), new Map([["key_a", keyOf("key_a")]]));
    await copy.ensureFresh("ten_1", "key_a");
    expect(reads).toEqual([{ tenantId: "ten_1", keyIds: ["key_a"] }]);
    expect(copy.stale).toBe(true);
    expect(copy.route?.tier).toBe("PREMIUM");
    expect(copy.key("key_a")?.id).toBe("key_a");
  });
});

describe("ControlCopy: storage", () => {
  it("writes the copy only when a read changed it", async () => {
    const { db, saves, copy } = harness();
    await copy.ensureFresh("ten_1", "key_a");
    at(STALENESS_MS + 1);
    await copy.ensureFresh("ten_1", "key_a");
    expect(saves).toHaveLength(1);
    db.keys = [{ ...keyOf("key_a"), revokedAt: T0 }];
    at(2 * STALENESS_MS + 2);
    await copy.ensureFresh("ten_1", "key_a");
    expect(saves).toHaveLength(2);
    expect(saves[1]?.keys[0]?.revokedAt).toBe(T0);
  });

  it("writes the first read after a restart even if it matches what storage holds", async () => {
    const { saves, copy } = harness();
    copy.restore("ten_1", routeOf(), new Map([["key_a", keyOf("key_a")]]));
    await copy.ensureFresh("ten_1", "key_a");
    expect(saves).toHaveLength(1);
  });
});

describe("ControlCopy: invalidate", () => {
  it("reads a fresh copy again at once, past the back-off", async () => {
    const { db, reads, copy } = harness();
    await copy.ensureFresh("ten_1", "key_a");
    db.failing = true;
    await copy.invalidate("ten_1");
    db.failing = false;
    db.route = routeOf("PREMIUM");
    await copy.invalidate("ten_1");
    expect(reads).toHaveLength(3);
    expect(copy.route?.tier).toBe("PREMIUM");
    expect(copy.stale).toBe(false);
  });

  it("waits for a read that starts after it, not one already under way", async () => {
    const { db, reads, copy, releaseAll } = harness();
    db.hold = true;
    const first = copy.ensureFresh("ten_1");
    let invalidated = false;
    const invalidation = copy.invalidate("ten_1").then(() => {
      invalidated = true;
    });
    expect(reads).toHaveLength(1);
    db.route = routeOf("PREMIUM");
    await releaseAll();
    await first;
    expect(copy.route?.tier).toBe("STANDARD");
    expect(invalidated).toBe(false);
    expect(reads).toHaveLength(2);
    await releaseAll();
    await invalidation;
    expect(copy.route?.tier).toBe("PREMIUM");
  });
});
