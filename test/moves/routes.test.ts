import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { controlDb } from "../../src/db/client";
import { newId } from "../../src/http/ids";
import { moveTenantsToTheirPools, resumeStalledMoves } from "../../src/moves/service";
import { tenantMoves } from "../../src/moves/table";
import { adminKey, call, captureConsole, createTenant, errorPaths, expectProblem, tenantKey } from "../helpers";
import { type Move, startMove, waitForMove } from "./fixture";

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});
const move = (tenantId: string, body: unknown, key = admin, headers?: Record<string, string>) =>
  call(`/v1/tenants/${tenantId}/move`, { method: "POST", key, body, headers });

describe("POST /v1/tenants/:tenantId/move", () => {
  it("rejects bad input with 400 naming each field", async () => {
    const tenant = await createTenant(admin, { shard_id: "d1-shared-0" });
    expect(errorPaths(await move(tenant.id, {}))).toEqual(["body.target_shard"]);
    expect(errorPaths(await move(tenant.id, { target_shard: "Not A Shard!" }))).toEqual(["body.target_shard"]);
    expectProblem(await move(tenant.id, { target_shard: "d1-shared-1", now: true }), 400, "validation-error");
    expectProblem(await call(`/v1/tenants/${tenant.id}/moves/not-a-move`, { key: admin }), 400, "validation-error");
  });

  it("is for platform admins: 401 without a key, 403 for a tenant's own admin key", async () => {
    const tenant = await createTenant(admin, { shard_id: "d1-shared-0" });
    const own = await tenantKey(admin, tenant.id, ["tenant:admin", "entries:write"]);
    expectProblem(await move(tenant.id, { target_shard: "d1-shared-1" }, ""), 401, "unauthenticated");
    expectProblem(await move(tenant.id, { target_shard: "d1-shared-1" }, own.secret), 403, "forbidden");
    expectProblem(await call(`/v1/tenants/${tenant.id}/moves`, { key: own.secret }), 403, "forbidden");
  });

  it("answers 404 for an unknown tenant, another tenant's move, and an unknown move", async () => {
    expectProblem(await move(newId("ten"), { target_shard: "d1-shared-1" }), 404, "not-found");
    const [one, other] = [await createTenant(admin, { shard_id: "d1-shared-0" }), await createTenant(admin)];
    const started = await startMove(admin, one.id, "d1-shared-1");
    expectProblem(await call(`/v1/tenants/${other.id}/moves/${started.id}`, { key: admin }), 404, "not-found");
    expectProblem(await call(`/v1/tenants/${one.id}/moves/${newId("mov")}`, { key: admin }), 404, "not-found");
    await waitForMove(admin, one.id, started.id);
  });

  it("answers 422 for a target placement could not have chosen", async () => {
    const tenant = await createTenant(admin, { shard_id: "d1-shared-0" });
    for (const [target, why] of [
      ["d1-nowhere", "it is not registered"],
      ["d1-dedicated-0", "it is dedicated to plans that ask for one"],
    ]) {
      const res = await move(tenant.id, { target_shard: target });
      expectProblem(res, 422, "unprocessable-entity");
      expect(res.json.detail).toBe(`Shard ${target} cannot take this tenant: ${why}`);
    }
    const eu = await createTenant(admin, { data_region: "eu" });
    const away = await move(eu.id, { target_shard: "d1-shared-0" });
    expectProblem(away, 422, "unprocessable-entity");
    expect(away.json.detail).toMatch(/not in region eu/);
    const drained = await call("/v1/shards/d1-shared-1", { method: "PATCH", key: admin, body: { status: "draining" } });
    expect(drained.status).toBe(200);
    try {
      expectProblem(await move(tenant.id, { target_shard: "d1-shared-1" }), 422, "unprocessable-entity");
    } finally {
      await call("/v1/shards/d1-shared-1", { method: "PATCH", key: admin, body: { status: "active" } });
    }
  });

  it("answers 409 for the tenant's own shard, a second move while one runs, and a tenant not ready", async () => {
    const tenant = await createTenant(admin, { shard_id: "d1-shared-0" });
    expectProblem(await move(tenant.id, { target_shard: "d1-shared-0" }), 409, "conflict");
    const first = await startMove(admin, tenant.id, "d1-shared-1");
    const second = await move(tenant.id, { target_shard: "pg-0" });
    expectProblem(second, 409, "conflict");
    expect(second.json.move_id).toBe(first.id);
    await waitForMove(admin, tenant.id, first.id);

    const dedicated = await call("/v1/shards/d1-dedicated-0", {
      method: "PATCH",
      key: admin,
      body: { status: "draining" },
    });
    expect(dedicated.status).toBe(200);
    try {
      const stuck = await createTenant(admin, { tier: "ENTERPRISE" });
      expect(stuck.status).toBe("PROVISION_ERROR");
      expectProblem(await move(stuck.id, { target_shard: "d1-dedicated-0" }), 409, "tenant-not-ready");
    } finally {
      await call("/v1/shards/d1-dedicated-0", { method: "PATCH", key: admin, body: { status: "active" } });
    }
  });

  it("replays the same move for the same Idempotency-Key, and lists moves newest first", async () => {
    const tenant = await createTenant(admin, { shard_id: "d1-shared-0" });
    const headers = { "Idempotency-Key": `move-${tenant.id}` };
    const first = await move(tenant.id, { target_shard: "d1-shared-1" }, admin, headers);
    const again = await move(tenant.id, { target_shard: "d1-shared-1" }, admin, headers);
    expect([first.status, again.status]).toEqual([202, 202]);
    expect(again.json.id).toBe(first.json.id);
    await waitForMove(admin, tenant.id, first.json.id);
    const back = await startMove(admin, tenant.id, "d1-shared-0");
    await waitForMove(admin, tenant.id, back.id);

    const page = await call(`/v1/tenants/${tenant.id}/moves?limit=1`, { key: admin });
    expect(page.json.data.map((m: { id: string }) => m.id)).toEqual([back.id]);
    const rest = await call(`/v1/tenants/${tenant.id}/moves?limit=1&cursor=${page.json.next_cursor}`, { key: admin });
    expect(rest.json.data.map((m: { id: string }) => m.id)).toEqual([first.json.id]);
    expect(rest.json.data[0]).toMatchObject({
      source_shard: "d1-shared-0",
      target_shard: "d1-shared-1",
      state: "completed",
    });
  });
});

describe("a move that cannot finish", () => {
  const warnings = captureConsole("warn");

  it("retries a failing step, then rolls back: the tenant stays where it was, writes and all", {
    timeout: 60_000,
  }, async () => {
    await env.CONTROL_DB.prepare(
      "INSERT INTO shards (id, engine, binding, region, dedicated, status, created_at) VALUES ('pg-down', 'postgres', 'SHARD_PG_DOWN', NULL, 0, 'active', 0)",
    ).run();
    const tenant = await createTenant(admin, { shard_id: "d1-shared-0" });
    const key = (await tenantKey(admin, tenant.id, ["entries:read", "entries:write"])).secret;
    const started = await startMove(admin, tenant.id, "pg-down");
    const failed = await waitForMove(admin, tenant.id, started.id, undefined, 50_000);
    expect(failed).toMatchObject({ state: "failed", switched_at: null, attempts: 5 });
    expect(failed.error).toMatch(/ECONNREFUSED|connect|refused/i);
    expect(failed.finished_at).not.toBeNull();
    expect(warnings().mock.calls.filter(([line]) => String(line).includes("move step failed"))).toHaveLength(5);

    const after = await call(`/v1/tenants/${tenant.id}`, { key: admin });
    expect(after.json.shard_id).toBe("d1-shared-0");
    const write = await call(`/v1/tenants/${tenant.id}/entries`, {
      method: "POST",
      key,
      body: { data: { still: "here" } },
    });
    expect(write.status).toBe(201);
    // A failed move is finished: another may start.
    const next = await startMove(admin, tenant.id, "d1-shared-1");
    await waitForMove(admin, tenant.id, next.id);
  });

  it("is resumed by the sweep once its message is lost", { timeout: 30_000 }, async () => {
    const tenant = await createTenant(admin, { shard_id: "d1-shared-0" });
    const db = controlDb(env);
    const now = Date.now();
    const row = (id: string, nextStepAt: number) => ({
      id,
      tenantId: tenant.id,
      sourceShardId: "d1-shared-0",
      targetShardId: "d1-shared-1",
      state: "queued" as const,
      nextStepAt,
      createdAt: nextStepAt,
      updatedAt: nextStepAt,
    });
    // No message was ever queued for this one: only the sweep can start it.
    const lost = newId("mov");
    await db.insert(tenantMoves).values(row(lost, now - 3 * 60_000));
    expect(await resumeStalledMoves(db, env, now)).toEqual([lost]);
    const done = await waitForMove(admin, tenant.id, lost);
    expect(done.state).toBe("completed");
    expect((await call(`/v1/tenants/${tenant.id}`, { key: admin })).json.shard_id).toBe("d1-shared-1");
    // A move whose step is due only now is left to its own message.
    const other = await createTenant(admin, { shard_id: "d1-shared-0" });
    await db.insert(tenantMoves).values({ ...row(newId("mov"), now), tenantId: other.id });
    expect(await resumeStalledMoves(db, env, now)).toEqual([]);
  });
});

describe("a tier change across pools", () => {
  it("made while a move runs, is carried out by a second move once the first is over", {
    timeout: 60_000,
  }, async () => {
    const tenant = await createTenant(admin, { shard_id: "d1-shared-0" });
    const first = await startMove(admin, tenant.id, "d1-shared-1");
    const up = await call(`/v1/tenants/${tenant.id}`, { method: "PATCH", key: admin, body: { tier: "ENTERPRISE" } });
    expect(up.status).toBe(200);
    // Too early for a move of its own: one is running.
    expect(up.headers.get("Location")).toBeNull();
    expect(await waitForMove(admin, tenant.id, first.id)).toMatchObject({
      state: "completed",
      target_shard: "d1-shared-1",
    });
    let follow: Move | undefined;
    for (let i = 0; i < 100 && !follow; i++) {
      const moves = (await call(`/v1/tenants/${tenant.id}/moves`, { key: admin })).json.data as Move[];
      follow = moves.find((move) => move.id !== first.id);
      if (!follow) await scheduler.wait(50);
    }
    expect(follow).toMatchObject({ source_shard: "d1-shared-1", target_shard: "d1-dedicated-0" });
    expect((await waitForMove(admin, tenant.id, follow?.id as string)).state).toBe("completed");
    expect((await call(`/v1/tenants/${tenant.id}`, { key: admin })).json.shard_id).toBe("d1-dedicated-0");
  });

  it("that no shard of the new pool can take yet is carried out by the hourly cron once one can", {
    timeout: 60_000,
  }, async () => {
    const shard = (status: string) =>
      call("/v1/shards/d1-dedicated-0", { method: "PATCH", key: admin, body: { status } });
    const tenant = await createTenant(admin, { shard_id: "d1-shared-0" });
    expect((await shard("draining")).status).toBe(200);
    try {
      const up = await call(`/v1/tenants/${tenant.id}`, { method: "PATCH", key: admin, body: { tier: "ENTERPRISE" } });
      expect(up.status).toBe(200);
      expect(up.headers.get("Location")).toBeNull();
      expect(await moveTenantsToTheirPools(controlDb(env), env)).toEqual([]);
    } finally {
      expect((await shard("active")).status).toBe(200);
    }
    const started = await moveTenantsToTheirPools(controlDb(env), env);
    const mine = started.find((move) => move.tenantId === tenant.id);
    expect(mine).toMatchObject({ sourceShardId: "d1-shared-0", targetShardId: "d1-dedicated-0" });
    expect((await waitForMove(admin, tenant.id, mine?.id as string)).state).toBe("completed");
    // On its pool now: the next pass leaves it alone.
    expect((await moveTenantsToTheirPools(controlDb(env), env)).map((move) => move.tenantId)).not.toContain(tenant.id);
  });

  it("moves the tenant to a dedicated shard on ENTERPRISE and back to a shared one after", {
    timeout: 60_000,
  }, async () => {
    const tenant = await createTenant(admin, { shard_id: "d1-shared-0" });
    const key = (await tenantKey(admin, tenant.id, ["entries:read", "entries:write"])).secret;
    const entry = await call(`/v1/tenants/${tenant.id}/entries`, { method: "POST", key, body: { data: { kept: 1 } } });
    expect(entry.status).toBe(201);

    const up = await call(`/v1/tenants/${tenant.id}`, { method: "PATCH", key: admin, body: { tier: "ENTERPRISE" } });
    expect(up.status).toBe(200);
    const toDedicated = up.headers.get("Location")?.split("/").at(-1) as string;
    expect(toDedicated).toMatch(/^mov_/);
    expect(await waitForMove(admin, tenant.id, toDedicated)).toMatchObject({
      state: "completed",
      source_shard: "d1-shared-0",
      target_shard: "d1-dedicated-0",
    });

    const down = await call(`/v1/tenants/${tenant.id}`, { method: "PATCH", key: admin, body: { tier: "FREE" } });
    const toShared = down.headers.get("Location")?.split("/").at(-1) as string;
    const back = await waitForMove(admin, tenant.id, toShared);
    expect(back).toMatchObject({ state: "completed", source_shard: "d1-dedicated-0" });
    expect(["d1-shared-0", "d1-shared-1", "pg-0"]).toContain(back.target_shard);
    const read = await call(`/v1/tenants/${tenant.id}/entries/${entry.json.id}`, { key });
    expect(read.json.data).toEqual({ kept: 1 });

    // A tier change within the pool moves nothing.
    const same = await call(`/v1/tenants/${tenant.id}`, { method: "PATCH", key: admin, body: { tier: "STANDARD" } });
    expect(same.status).toBe(200);
    expect(same.headers.get("Location")).toBeNull();
  });
});
