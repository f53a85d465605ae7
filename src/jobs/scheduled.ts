import { resumeStalledArchives } from "../archives/job";
import { expireArchives } from "../archives/retention";
import { applyAuditRetention } from "../audit/retention";
import { dueBackups } from "../backups/service";
import { type ControlDb, controlDb } from "../db/client";
import { dropOldDeadLetters } from "../dead-letters/service";
import { sweepRelay } from "../events/relay";
import { applyEventRetention } from "../events/retention";
import { checkFlagGuards } from "../flags/guard";
import { purgeExpiredIdempotencyRecords } from "../http/idempotency";
import { dueArchivals } from "../lifecycle/archival";
import { duePurges } from "../lifecycle/purge";
import { applyMetricsRetention } from "../metrics/store";
import { moveTenantsToTheirPools, resumeStalledMoves } from "../moves/service";
import { resumeStalledRestores } from "../restores/job";
import { settings } from "../settings";
import { probeAllShards } from "../shards/health";
import { dropOldTickets } from "../stream/service";
import { dueUsageAggregation } from "../usage/service";
import { sweepWebhooks } from "../webhooks/deliver";
import { applyWebhookRetention } from "../webhooks/retention";
import { startFanOut } from "./fan-out";

/** Work a cron starts, off the request path; `at` is the cron's scheduled time. */
type CronJob = (db: ControlDb, env: Env, at: number) => Promise<unknown>;

/**
 * Every cron of wrangler.toml [triggers] and the jobs it starts; test/jobs/scheduled.node.test.ts
 * fails when the two disagree.
 */
export const SCHEDULE = {
  // A move, archive or restore whose message was lost (or whose consumer died) goes on from where it
  // stopped, and whatever a lost nudge left to the event relay is carried.
  everyMinute: {
    cron: "* * * * *",
    jobs: [
      resumeStalledMoves,
      (db, env) => resumeStalledArchives(db, env),
      (db, env) => resumeStalledRestores(db, env),
      (db, env) => sweepRelay(db, env),
      // A guarded flag whose tenant's requests went bad is rolled back for that tenant.
      (db, _, at) => checkFlagGuards(db, at),
      // A webhook attempt whose queue message was lost (or whose consumer died) is queued again.
      (db, env) => sweepWebhooks(env, db),
    ],
  },
  probeShards: { cron: "*/5 * * * *", jobs: [probeAllShards] },
  // A tenant left on the wrong pool (no shard of its plan's could take it then) is moved once one can.
  // Exports past their retention lose their file; per-minute metrics past theirs go.
  housekeeping: {
    cron: "17 * * * *",
    jobs: [
      (db) => purgeExpiredIdempotencyRecords(db),
      (db) => dropOldTickets(db),
      moveTenantsToTheirPools,
      (db, env) => expireArchives(db, env),
      (db, env, at) => applyMetricsRetention(db, settings(env).metricsRetentionMs, at),
    ],
  },
  // Every tenant with data is backed up once a day, and every tenant's usage of the day before is
  // aggregated, a page of tenants per queue message.
  daily: {
    cron: "0 1 * * *",
    jobs: [(_, env, at) => startFanOut(env, dueBackups, at), (_, env, at) => startFanOut(env, dueUsageAggregation, at)],
  },
  // Trial tenants nobody has used for ARCHIVE_INACTIVE_DAYS are archived to R2, a page per message.
  archival: { cron: "0 2 * * *", jobs: [(_, env, at) => startFanOut(env, dueArchivals, at)] },
  // Tenants deleted longer ago than their grace are purged, a page of tenants per queue message;
  // dead letters older than 30 days go, and webhook messages older than WEBHOOK_RETENTION_DAYS.
  retention: {
    cron: "0 3 * * *",
    jobs: [
      (db, env) => applyAuditRetention(db, env),
      (db, env) => applyEventRetention(db, env),
      (_, env, at) => startFanOut(env, duePurges, at),
      (db) => dropOldDeadLetters(db),
      (db, env) => applyWebhookRetention(db, env),
    ],
  },
} as const satisfies Record<string, { cron: string; jobs: readonly CronJob[] }>;

const JOBS_BY_CRON = new Map<string, readonly CronJob[]>(Object.values(SCHEDULE).map(({ cron, jobs }) => [cron, jobs]));

/** Cron entry point: starts the jobs of the cron that fired. */
export async function scheduled(controller: ScheduledController, env: Env, ctx: ExecutionContext) {
  const jobs = JOBS_BY_CRON.get(controller.cron);
  if (!jobs) {
    console.warn(JSON.stringify({ level: "warn", msg: "no job for this cron", cron: controller.cron }));
    return;
  }
  const db = controlDb(env);
  for (const job of jobs) ctx.waitUntil(job(db, env, controller.scheduledTime));
}
