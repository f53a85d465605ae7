import type { ControlDb } from "../db/client";
import { platformFlags } from "./cache";
import { evaluate } from "./evaluate";
import type { Flag } from "./table";

/**
 * Degrade switches: boolean platform flags that shed optional work under load, read from the
 * flag cache on the paths they guard (within 1 s of a change everywhere). A switch is on when its
 * flag exists, is marked `degrade` and evaluates to true; a missing flag sheds nothing.
 */
export const DEGRADE_SWITCHES = {
  "degrade.exports": "Exports and backups (on demand and scheduled) are refused or postponed",
  "degrade.tenant-metrics": "GET /metrics leaves out its per-tenant series",
  "degrade.realtime": "New realtime stream connections are refused",
} as const;

export type DegradeSwitch = keyof typeof DEGRADE_SWITCHES;

const switchOn = (key: DegradeSwitch, flag: Flag | undefined) =>
  flag?.degrade === true && evaluate(key, flag.config, {}).value === true;

/** Every known switch and whether it is on now. */
export async function degradation(env: Env, db: ControlDb) {
  const { definitions } = await platformFlags(env, db);
  return (Object.keys(DEGRADE_SWITCHES) as DegradeSwitch[]).map((key) => {
    const flag = definitions.get(key);
    return { key, sheds: DEGRADE_SWITCHES[key], defined: flag !== undefined, on: switchOn(key, flag) };
  });
}

/** Whether the switch is on (its work is to be shed). */
export async function degraded(env: Env, db: ControlDb, key: DegradeSwitch): Promise<boolean> {
  const { definitions } = await platformFlags(env, db);
  return switchOn(key, definitions.get(key));
}
