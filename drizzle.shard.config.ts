import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/shard-tables.ts",
  out: "./migrations/shard",
});
