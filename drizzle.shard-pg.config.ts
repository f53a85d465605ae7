import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "postgresql",
  schema: "./src/db/shard-pg-schema.ts",
  out: "./migrations/shard-pg",
});
