import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/shard-pg-tables.ts",
  out: "./migrations/shard-pg",
});
