import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

// Reads migrations/shard-pg/index.ts as source: Node cannot import its `*.sql` modules, which only
// wrangler's and workerd's module rules turn into text (test/shards/pg-store.test.ts applies them).
const folder = new URL("../../migrations/shard-pg/", import.meta.url);
const read = (file: string) => readFileSync(new URL(file, folder), "utf8");

const files = readdirSync(folder)
  .filter((file) => file.endsWith(".sql"))
  .sort()
  .map((file) => file.replace(/\.sql$/, ""));
const index = read("index.ts");
const imported = [...index.matchAll(/^import (\w+) from "\.\/([\w-]+)\.sql";$/gm)].map(([, binding, name]) => ({
  binding,
  name,
}));
const listed = [...index.matchAll(/\{ name: "([\w-]+)", sql: (\w+) \}/g)].map(([, name, binding]) => ({
  binding,
  name,
}));

describe("migrations/shard-pg/index.ts", () => {
  it("imports every .sql file of the folder, in order", () => {
    expect(files.length).toBeGreaterThan(0);
    expect(imported.map((m) => m.name)).toEqual(files);
  });

  it("lists each migration once, in order, under the name of the file it imports", () => {
    expect(listed).toEqual(imported);
  });

  it("follows the drizzle-kit journal, so `drizzle-kit generate` and the runner agree", () => {
    const journal = JSON.parse(read("meta/_journal.json")) as {
      dialect: string;
      entries: { idx: number; tag: string }[];
    };
    expect(journal.dialect).toBe("postgresql");
    expect(journal.entries.map((e) => e.idx)).toEqual(files.map((_, i) => i));
    expect(journal.entries.map((e) => e.tag)).toEqual(files);
  });
});
