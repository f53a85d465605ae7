import { archiveStep } from "../archives/jobs";
import { backupTenant } from "../backups/jobs";
import { dueBackups } from "../backups/service";
import { controlDb } from "../db/client";
import { readinessProbe } from "../health/jobs";
import { dueArchivals } from "../lifecycle/archival";
import { archiveTenant, purgeTenant } from "../lifecycle/jobs";
import { duePurges } from "../lifecycle/purge";
import { moveStep } from "../moves/jobs";
import { restoreStep } from "../restores/jobs";
import { aggregateUsage } from "../usage/jobs";
import { dueUsageAggregation } from "../usage/service";
import { type FanOut, fanOutMessage, runFanOutPage } from "./fan-out";
import { defineJob, type JobKind } from "./kind";

/** Every fan-out a cron starts (src/jobs/fan-out.ts), by name. */
export const FAN_OUTS: readonly FanOut[] = [duePurges, dueBackups, dueArchivals, dueUsageAggregation];

const fanOutPage = defineJob(fanOutMessage, {
  run: async (env, { fanOut, after, at }) => {
    const declared = FAN_OUTS.find((f) => f.name === fanOut);
    if (!declared) throw new Error(`no fan-out is named ${fanOut}`);
    await runFanOutPage(env, controlDb(env), declared, { after, at });
  },
  logFields: ({ fanOut, after }) => ({ fan_out: fanOut, after }),
});

/**
 * Every kind the lifecycle queue carries, with its job: each domain declares its message kinds in
 * messages.ts and their jobs in jobs.ts, and adds them here (test/jobs/registry.test.ts fails on one left out).
 */
export const KINDS = [
  moveStep,
  archiveStep,
  restoreStep,
  purgeTenant,
  archiveTenant,
  backupTenant,
  aggregateUsage,
  readinessProbe,
  fanOutPage,
] as const;

/** The kinds by name. Two of one name would leave one unreachable, so that throws. */
export function byName(kinds: readonly JobKind[]): ReadonlyMap<string, JobKind> {
  const map = new Map<string, JobKind>();
  for (const kind of kinds) {
    if (map.has(kind.name)) throw new Error(`job kind "${kind.name}" is declared twice`);
    map.set(kind.name, kind);
  }
  return map;
}
