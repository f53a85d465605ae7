import { describe, expect, it } from "vitest";
import type { Release } from "../../src/gate/protocol";
import { deferRelease, restoreReleases, takeReleases } from "../../src/gate/releases";

const release = (leaseId: string): Release => ({ leaseId, outcomes: [] });

describe("pending slot releases", () => {
  it("hands every pending release of a tenant to the next admit, once", () => {
    const sent: Release[][] = [];
    const send = async (due: Release[]) => {
      sent.push(due);
    };
    const waits = [deferRelease("t-take", release("a"), send, 50), deferRelease("t-take", release("b"), send, 50)];
    deferRelease("t-other", release("c"), send, 0);
    expect(takeReleases("t-take").map((r) => r.leaseId)).toEqual(["a", "b"]);
    expect(takeReleases("t-take")).toEqual([]);
    return Promise.all(waits).then(() => expect(sent.flat().map((r) => r.leaseId)).toEqual(["c"]));
  });

  it("sends what no admit took, all of the tenant's pending releases in one call", async () => {
    const sent: (string | null)[][] = [];
    const send = async (due: Release[]) => {
      sent.push(due.map((r) => r.leaseId));
    };
    await Promise.all([deferRelease("t-send", release("a"), send, 5), deferRelease("t-send", release("b"), send, 5)]);
    expect(sent).toEqual([["a", "b"]]);
  });

  it("arms a new timer for a release that comes after the last one fired", async () => {
    const sent: (string | null)[][] = [];
    const send = async (due: Release[]) => {
      sent.push(due.map((r) => r.leaseId));
    };
    await deferRelease("t-rearm", release("a"), send, 1);
    await deferRelease("t-rearm", release("b"), send, 1);
    expect(sent).toEqual([["a"], ["b"]]);
  });

  it("keeps the releases of a failed admit for the next one", () => {
    restoreReleases("t-restore", [release("a")]);
    restoreReleases("t-restore", []);
    restoreReleases("t-restore", [release("b")]);
    expect(takeReleases("t-restore").map((r) => r.leaseId)).toEqual(["b", "a"]);
  });
});
