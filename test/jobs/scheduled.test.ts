import { createExecutionContext, createScheduledController, waitOnExecutionContext } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { SCHEDULE, scheduled } from "../../src/jobs/scheduled";

const insertRecord = (key: string, expiresAt: number) =>
  env.CONTROL_DB.prepare(
    "INSERT INTO idempotency_records (principal, key, method, path, request_hash, state, created_at, expires_at) VALUES ('key_x', ?, 'POST', '/v1/x', 'h', 'completed', 0, ?)",
  )
    .bind(key, expiresAt)
    .run();

describe("scheduled housekeeping", () => {
  it("purges expired idempotency records and keeps live ones", async () => {
    await insertRecord("expired", Date.now() - 1);
    await insertRecord("live", Date.now() + 3600_000);
    const ctx = createExecutionContext();
    await scheduled(createScheduledController({ cron: SCHEDULE.housekeeping.cron }), env, ctx);
    await waitOnExecutionContext(ctx);
    const { results } = await env.CONTROL_DB.prepare("SELECT key FROM idempotency_records ORDER BY key").all();
    expect(results.map((r) => r.key)).toEqual(["live"]);
  });
});

describe("a cron with no entry in the schedule", () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it("starts nothing and logs a warning", async () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => undefined);
    const ctx = createExecutionContext();
    await scheduled(createScheduledController({ cron: "0 4 * * *" }), env, ctx);
    await waitOnExecutionContext(ctx);
    expect(warn.mock.calls.map(([line]) => JSON.parse(String(line)))).toEqual([
      { level: "warn", msg: "no job for this cron", cron: "0 4 * * *" },
    ]);
  });
});
