import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CRONS } from "../src/scheduled";

describe("wrangler.toml [triggers]", () => {
  it("declares exactly the crons the scheduled handler dispatches on", () => {
    const toml = readFileSync(new URL("../wrangler.toml", import.meta.url), "utf8");
    const declared = /^crons\s*=\s*\[(.*)\]/m.exec(toml)?.[1] ?? "";
    expect(JSON.parse(`[${declared}]`).sort()).toEqual(Object.values(CRONS).sort());
  });
});
