import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { archiveRecords } from "../../src/archives/dataset";
import { systemActor } from "../../src/auth/actor";
import { DATASETS } from "../../src/datasets/registry";
import { controlDb } from "../../src/db/client";
import { outboxEvent } from "../../src/events/outbox";

// D1 refuses a SQL function call with more than 32 arguments (local SQLite allows more, so only a
// deployed Worker would fail): an event's row JSON is built within that bound for every dataset.

/** The argument counts of every call of `name` in the SQL text. */
function argumentCounts(text: string, name: string): number[] {
  const counts: number[] = [];
  for (let at = text.indexOf(`${name}(`); at >= 0; at = text.indexOf(`${name}(`, at + 1)) {
    let depth = 0;
    let commas = 0;
    let quoted = false;
    for (let i = at + name.length; i < text.length; i++) {
      const ch = text[i];
      if (ch === "'") quoted = !quoted;
      if (quoted) continue;
      if (ch === "(") depth++;
      else if (ch === ")" && --depth === 0) break;
      else if (ch === "," && depth === 1) commas++;
    }
    counts.push(commas + 1);
  }
  return counts;
}

describe("an outbox event's row JSON", () => {
  it("calls json_object and json_set with at most 32 arguments, for every control dataset", () => {
    const db = controlDb(env);
    const origin = { origin: { requestId: null, actor: systemActor("test") } };
    for (const dataset of DATASETS) {
      // Events are of datasets whose rows have one key (a subject's id).
      if (dataset.home !== "control" || dataset.orderKey.length !== 1) continue;
      const query = outboxEvent(db, origin, {
        type: "tenant.updated",
        tenantId: "ten_x",
        subject: "x",
        dataset,
        where: "x",
      }).toSQL();
      for (const name of ["json_object", "json_set"]) {
        for (const count of argumentCounts(query.sql, name))
          expect(count, `${dataset.name} ${name}`).toBeLessThanOrEqual(32);
      }
    }
    // The archives' rows have 30 columns: their JSON takes more than one call.
    const archives = outboxEvent(db, origin, {
      type: "export.completed",
      tenantId: "ten_x",
      subject: "export",
      dataset: archiveRecords,
      where: "x",
    }).toSQL().sql;
    expect(argumentCounts(archives, "json_set").length).toBeGreaterThan(0);
  });
});
