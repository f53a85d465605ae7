import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

// Reads each shard engine's migrations/*/index.ts as source: Node cannot import its `*.sql`
// modules, which only wrangler's and workerd's module rules turn into text
// (test/shards/d1-migrate.test.ts and pg-store.test.ts apply them).
describe.each([
  { folder: "shard", dialect: "sqlite" },
  { folder: "shard-pg", dialect: "postgresql" },
])("migrations/$folder/index.ts", ({ folder, dialect }) => {
  const dir = new URL(`../../migrations/${folder}/`, import.meta.url);
  const read = (file: string) => readFileSync(new URL(file, dir), "utf8");
  const files = readdirSync(dir)
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
    expect(journal.dialect).toBe(dialect);
    expect(journal.entries.map((e) => e.idx)).toEqual(files.map((_, i) => i));
    expect(journal.entries.map((e) => e.tag)).toEqual(files);
  });
});
