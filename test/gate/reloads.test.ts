import { describe, expect, it } from "vitest";
import { Reloads } from "../../src/gate/reloads";

/** A copy whose reloads the test finishes by hand, recording which keys each one asked for. */
function copy(maxKeys = 256) {
  const known = new Set<string>();
  const loads: { keyIds: string[]; finish: () => void }[] = [];
  const reloads = new Reloads(
    () => known,
    (keyIds) =>
      new Promise<void>((resolve) => {
        loads.push({
          keyIds,
          finish: () => {
            known.clear();
            for (const id of keyIds) known.add(id);
            resolve();
          },
        });
      }),
    maxKeys,
  );
  const finish = async (index: number) => {
    loads[index]?.finish();
    // Let the settled promises' callbacks run.
    await new Promise((resolve) => setTimeout(resolve, 0));
  };
  return { known, loads, reloads, finish };
}

const settledFlags = (promises: Promise<void>[]) => {
  const flags = promises.map(() => false);
  promises.forEach((promise, i) => {
    promise.then(() => {
      flags[i] = true;
    });
  });
  return flags;
};

describe("the gate's reloads", () => {
  it("lets a caller needing another key wait for a reload that asks for it, not the one running", async () => {
    const { loads, reloads, finish } = copy();
    const first = reloads.request("key_a");
    const second = reloads.request("key_b");
    const third = reloads.request("key_c");
    expect(loads.map((load) => load.keyIds)).toEqual([["key_a"]]);
    const done = settledFlags([first, second, third]);

    await finish(0);
    expect(done).toEqual([true, false, false]);
    // One follow-up for both waiting callers, asking again for what the copy now holds.
    expect(loads.map((load) => load.keyIds)).toEqual([["key_a"], ["key_a", "key_b", "key_c"]]);
    await finish(1);
    expect(done).toEqual([true, true, true]);
  });

  it("shares a running reload with callers whose key it asks for, or who need no key", async () => {
    const { known, loads, reloads, finish } = copy();
    known.add("key_a");
    const calls = [reloads.request(), reloads.request("key_a"), reloads.request()];
    const done = settledFlags(calls);
    expect(loads).toHaveLength(1);
    await finish(0);
    expect(done).toEqual([true, true, true]);
    expect(loads).toHaveLength(1);
  });

  it("makes a caller told of a change wait for a reload that starts after it asked", async () => {
    const { known, loads, reloads, finish } = copy();
    known.add("key_a");
    const running = reloads.request("key_b");
    const told = reloads.request(undefined, true);
    const done = settledFlags([running, told]);
    await finish(0);
    expect(done).toEqual([true, false]);
    expect(loads).toHaveLength(2);
    await finish(1);
    expect(done).toEqual([true, true]);
  });

  it("starts a reload of its own for a caller once nothing is running", async () => {
    const { loads, reloads, finish } = copy();
    const first = reloads.request("key_a");
    await finish(0);
    await first;
    reloads.request(undefined, true);
    expect(loads).toHaveLength(2);
  });

  it("keeps the requested keys when the copy is at its bound", async () => {
    const { known, loads, reloads } = copy(3);
    for (const id of ["key_1", "key_2", "key_3"]) known.add(id);
    reloads.request("key_new");
    expect(loads[0]?.keyIds).toEqual(["key_2", "key_3", "key_new"]);
  });

  it("passes a failed reload's error to everyone who waited for it, then runs the follow-up", async () => {
    let attempt = 0;
    const reloads = new Reloads(
      () => [],
      async () => {
        attempt++;
        if (attempt === 1) throw new Error("control database down");
      },
      10,
    );
    const first = reloads.request("key_a");
    const second = reloads.request("key_b");
    await expect(first).rejects.toThrow("control database down");
    await expect(second).resolves.toBeUndefined();
    expect(attempt).toBe(2);
  });
});
