import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SCHEDULE } from "../../src/jobs/scheduled";

describe("wrangler.toml [triggers]", () => {
  it("declares exactly the crons of the schedule, each once", () => {
    const toml = readFileSync(new URL("../../wrangler.toml", import.meta.url), "utf8");
    const declared: string[] = JSON.parse(`[${/^crons\s*=\s*\[(.*)\]/m.exec(toml)?.[1] ?? ""}]`);
    const scheduled: string[] = Object.values(SCHEDULE).map((entry) => entry.cron);
    expect(new Set(scheduled).size).toBe(scheduled.length);
    expect(declared.sort()).toEqual(scheduled.sort());
  });
});
