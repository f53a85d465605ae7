import { z } from "zod";
import type { ControlDb } from "../db/client";
import { enqueue } from "./enqueue";
import { defineMessage, type MessageKind } from "./kind";

/**
 * Work a cron does for many tenants (purges, backups, archival), handed to the lifecycle queue a
 * page at a time: the cron queues the first page's message only, and each page's consumer queues
 * one message per tenant of its page and then the next page's. No invocation walks more than a
 * page, whatever the number of tenants; each per-tenant job is idempotent, so a page run twice
 * (a retried message) costs only duplicates that do nothing.
 */
export type FanOut<Body extends z.ZodObject = z.ZodObject> = {
  name: string;
  /** Up to `limit` ids of the tenants due, in ascending id order after `after` (null: from the first). */
  due(db: ControlDb, after: string | null, limit: number, at: number, env: Env): Promise<string[]>;
  /** The per-tenant job's message kind, and its body for one tenant of a run started at `at`. */
  kind: MessageKind<string, Body>;
  body(tenantId: string, at: number): z.input<Body>;
};

/** Tenants per page: a queue's sendBatch takes at most 100 messages. */
export const FAN_OUT_PAGE = 100;

/** One page of a fan-out: `at` is when its run started (a cron's scheduled time), fixed across its pages. */
export const fanOutMessage = defineMessage(
  "fan-out",
  z.object({ fanOut: z.string(), after: z.string().nullable(), at: z.number().int() }),
);

/** Starts a fan-out's run (from a cron): queues its first page. */
export const startFanOut = (env: Env, fanOut: FanOut, at: number) =>
  enqueue(env, fanOutMessage, { fanOut: fanOut.name, after: null, at });

/** Runs one page: one message per tenant due, then the next page's message if the page was full. */
export async function runFanOutPage(
  env: Env,
  db: ControlDb,
  fanOut: FanOut,
  page: { after: string | null; at: number },
): Promise<number> {
  const ids = await fanOut.due(db, page.after, FAN_OUT_PAGE, page.at, env);
  if (ids.length > 0) {
    await env.LIFECYCLE_QUEUE.sendBatch(
      ids.map((id) => ({ body: { ...fanOut.kind.body.parse(fanOut.body(id, page.at)), kind: fanOut.kind.name } })),
    );
  }
  const last = ids.at(-1);
  if (ids.length === FAN_OUT_PAGE && last) {
    await enqueue(env, fanOutMessage, { fanOut: fanOut.name, after: last, at: page.at });
  }
  return ids.length;
}
