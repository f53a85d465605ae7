import { createExecutionContext, createMessageBatch, getQueueResult } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, beforeAll, beforeEach, describe, expect, it, type MockInstance, vi } from "vitest";
import { z } from "zod";
import { defineJob, defineMessage } from "../../src/jobs/kind";
import { createQueueHandler, queue } from "../../src/jobs/queue";
import { adminKey } from "../helpers";
import { storedMove, strandedMove, waitForMove } from "../moves/fixture";

let sent = 0;

/** Hands one message to the handler, as the lifecycle queue would, and says what became of it. */
async function deliver(body: unknown, handler = queue) {
  const id = `msg-${sent++}`;
  const batch = createMessageBatch("edge-tenancy-lifecycle", [{ id, timestamp: Date.now(), attempts: 1, body }]);
  const ctx = createExecutionContext();
  await handler(batch, env);
  const result = await getQueueResult(batch, ctx);
  return {
    id,
    acked: result.explicitAcks.includes(id),
    retried: result.retryMessages.some((message) => message.msgId === id),
  };
}

let warn: MockInstance<typeof console.warn>;
let error: MockInstance<typeof console.error>;
beforeEach(() => {
  warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
  error = vi.spyOn(console, "error").mockImplementation(() => undefined);
});
afterEach(() => {
  vi.restoreAllMocks();
});

/** The JSON log lines written with `spy` about message `id`. */
const linesAbout = (spy: MockInstance<(...args: unknown[]) => void>, id: string) =>
  spy.mock.calls.map(([line]) => JSON.parse(String(line)) as Record<string, unknown>).filter((line) => line.id === id);

describe("the lifecycle queue consumer", () => {
  it("acks a move step whose move does not exist", async () => {
    const outcome = await deliver({ kind: "move-step", moveId: "mov_missing", seq: 0 });
    expect(outcome).toMatchObject({ acked: true, retried: false });
    expect(linesAbout(warn, outcome.id)).toEqual([]);
  });

  it("reads a move step without seq, as queued before steps were counted", async () => {
    const outcome = await deliver({ kind: "move-step", moveId: "mov_missing" });
    expect(outcome).toMatchObject({ acked: true, retried: false });
    expect(linesAbout(warn, outcome.id)).toEqual([]);
  });

  it("acks a message of an unknown kind and dead-letters it with a log line", async () => {
    const outcome = await deliver({ kind: "tenant-purge", tenantId: "ten_1" });
    expect(outcome).toMatchObject({ acked: true, retried: false });
    expect(linesAbout(warn, outcome.id)).toEqual([
      {
        level: "warn",
        msg: "lifecycle message dead-lettered",
        kind: "tenant-purge",
        id: outcome.id,
        issues: [{ path: "kind", code: "unknown_kind", message: "Not a declared job kind" }],
      },
    ]);
  });

  it("dead-letters a message that names no kind at all", async () => {
    const outcome = await deliver("move mov_1, please");
    expect(outcome).toMatchObject({ acked: true, retried: false });
    expect(linesAbout(warn, outcome.id)).toMatchObject([{ kind: null, issues: [{ path: "kind" }] }]);
  });

  it("dead-letters a move step without its move id", async () => {
    const outcome = await deliver({ kind: "move-step", seq: 1 });
    expect(outcome).toMatchObject({ acked: true, retried: false });
    expect(linesAbout(warn, outcome.id)).toMatchObject([
      { msg: "lifecycle message dead-lettered", kind: "move-step", issues: [{ path: "moveId", code: "invalid_type" }] },
    ]);
  });

  it("dead-letters a move step whose seq is no integer", async () => {
    const outcome = await deliver({ kind: "move-step", moveId: "mov_1", seq: 1.5 });
    expect(outcome).toMatchObject({ acked: true, retried: false });
    expect(linesAbout(warn, outcome.id)).toMatchObject([{ kind: "move-step", issues: [{ path: "seq" }] }]);
  });

  it("logs what is wrong with a body, never the body's values", async () => {
    const outcome = await deliver({ kind: "move-step", moveId: 7, seq: "etk_secret" });
    const lines = linesAbout(warn, outcome.id);
    expect(lines).toMatchObject([{ issues: [{ path: "moveId" }, { path: "seq" }] }]);
    expect(JSON.stringify(lines)).not.toContain("etk_secret");
  });

  it("retries a message whose job throws, and logs it", async () => {
    const failing = defineJob(defineMessage("failing", z.object({ tenantId: z.string() })), {
      run: () => Promise.reject(new Error("control database down")),
      logFields: ({ tenantId }) => ({ tenant_id: tenantId }),
    });
    const outcome = await deliver({ kind: "failing", tenantId: "ten_1" }, createQueueHandler([failing]));
    expect(outcome).toMatchObject({ acked: false, retried: true });
    expect(linesAbout(error, outcome.id)).toEqual([
      {
        level: "error",
        msg: "job could not run",
        kind: "failing",
        id: outcome.id,
        tenant_id: "ten_1",
        attempts: 1,
        error: "Error: control database down",
      },
    ]);
  });

  it("refuses to build over two kinds of one name", () => {
    const kind = defineJob(defineMessage("twice", z.object({})), { run: async () => undefined });
    expect(() => createQueueHandler([kind, { ...kind }])).toThrow('job kind "twice" is declared twice');
  });
});

describe("a move step through the consumer", () => {
  let admin: string;
  beforeAll(async () => {
    admin = await adminKey();
  });

  it("drops a stale step, runs the current one, and the steps it queues finish the move", {
    timeout: 30_000,
  }, async () => {
    // A move recorded at step count 2, with no message queued.
    const { tenant, move } = await strandedMove(admin, { stepSeq: 2 });
    const stored = () => storedMove(move.id);

    expect(await deliver({ kind: "move-step", moveId: move.id, seq: 1 })).toMatchObject({ acked: true });
    expect(await stored()).toMatchObject({ state: "queued", stepSeq: 2 });

    expect(await deliver({ kind: "move-step", moveId: move.id, seq: 2 })).toMatchObject({ acked: true });
    const stepped = await stored();
    expect(stepped.state).not.toBe("queued");
    expect(stepped.stepSeq).toBeGreaterThanOrEqual(3);

    // Its successors went out through enqueue() to the real queue, whose consumer is this Worker.
    expect((await waitForMove(admin, tenant.id, move.id)).state).toBe("completed");
  });
});
