import { env } from "cloudflare:workers";
import { eq } from "drizzle-orm";
import { expect } from "vitest";
import { controlDb } from "../../src/db/client";
import { newId } from "../../src/http/ids";
import { type TenantMove, tenantMoves } from "../../src/moves/table";
import { openStore } from "../../src/shards/connection";
import type { ShardStore } from "../../src/shards/store";
import { call, createTenant } from "../helpers";

export type Move = {
  id: string;
  state: string;
  source_shard: string;
  target_shard: string;
  rows_total: number | null;
  rows_copied: number;
  rows_verified: number | null;
  checksum: string | null;
  attempts: number;
  error: string | null;
  switched_at: string | null;
  finished_at: string | null;
};

export async function startMove(admin: string, tenantId: string, target: string): Promise<Move> {
  const res = await call(`/v1/tenants/${tenantId}/move`, {
    method: "POST",
    key: admin,
    body: { target_shard: target },
  });
  expect(res.status, res.text).toBe(202);
  expect(res.headers.get("Location")).toBe(`/v1/tenants/${tenantId}/moves/${res.json.id}`);
  return res.json;
}

export async function moveStatus(admin: string, tenantId: string, moveId: string): Promise<Move> {
  const res = await call(`/v1/tenants/${tenantId}/moves/${moveId}`, { key: admin });
  expect(res.status, res.text).toBe(200);
  return res.json;
}

/** Polls the move's status until `done` says so (the queue consumer runs the move meanwhile). */
export async function waitForMove(
  admin: string,
  tenantId: string,
  moveId: string,
  done: (move: Move) => boolean = (move) => move.state === "completed" || move.state === "failed",
  timeoutMs = 30_000,
): Promise<Move> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const move = await moveStatus(admin, tenantId, moveId);
    if (done(move)) return move;
    if (Date.now() > deadline) throw new Error(`move ${moveId} still ${move.state}: ${JSON.stringify(move)}`);
    await scheduler.wait(50);
  }
}

/** Opens a registered shard the way the Worker does, to look at what it holds. */
export async function withShard<T>(shardId: string, run: (store: ShardStore) => Promise<T>): Promise<T> {
  const row = await env.CONTROL_DB.prepare("SELECT id, engine, binding FROM shards WHERE id = ?")
    .bind(shardId)
    .first<{ id: string; engine: "d1" | "postgres"; binding: string }>();
  if (!row) throw new Error(`no shard ${shardId}`);
  const store = await openStore(env, row);
  try {
    return await run(store);
  } finally {
    await store.close();
  }
}

/**
 * A move of a fresh tenant from d1-shared-0 to d1-shared-1, written straight into the control
 * database as a step would have left it, with no message queued for it.
 */
export async function strandedMove(admin: string, fields: Partial<TenantMove>) {
  const tenant = await createTenant(admin, { shard_id: "d1-shared-0" });
  const now = Date.now();
  const [move] = await controlDb(env)
    .insert(tenantMoves)
    .values({
      id: newId("mov"),
      tenantId: tenant.id,
      sourceShardId: "d1-shared-0",
      targetShardId: "d1-shared-1",
      state: "queued",
      nextStepAt: now,
      createdAt: now,
      updatedAt: now,
      ...fields,
    })
    .returning();
  return { tenant, move: move as TenantMove };
}

/** The move's row as the control database holds it now. */
export const storedMove = async (id: string) =>
  (await controlDb(env).query.tenantMoves.findFirst({ where: eq(tenantMoves.id, id) })) as TenantMove;
