import { archiveStep } from "../archives/jobs";
import { moveStep } from "../moves/jobs";
import type { JobKind } from "./kind";

/**
 * Every kind the lifecycle queue carries, with its job: each domain declares its message kinds in
 * messages.ts and their jobs in jobs.ts, and adds them here (test/jobs/registry.test.ts fails on one left out).
 */
export const KINDS = [moveStep, archiveStep] as const;

/** The kinds by name. Two of one name would leave one unreachable, so that throws. */
export function byName(kinds: readonly JobKind[]): ReadonlyMap<string, JobKind> {
  const map = new Map<string, JobKind>();
  for (const kind of kinds) {
    if (map.has(kind.name)) throw new Error(`job kind "${kind.name}" is declared twice`);
    map.set(kind.name, kind);
  }
  return map;
}
