import { defineConfig } from "drizzle-kit";

export default defineConfig({
  dialect: "sqlite",
  schema: "./src/db/shard-schema.ts",
  out: "./migrations/shard",
});
