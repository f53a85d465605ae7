-- Plans: limits per tier (NULL = unlimited). Rates and concurrency follow the tier table in the
-- platform spec; monthly request, entry and storage quotas are this kernel's defaults.
INSERT INTO `plans` (`tier`, `name`, `rate_limit_per_minute`, `max_concurrency`, `monthly_requests`, `max_entries`, `max_storage_bytes`, `dedicated_shard`, `created_at`) VALUES
  ('FREE', 'Free', 60, 5, 100000, 10000, 104857600, 0, 0),
  ('STANDARD', 'Standard', 600, 20, 5000000, 1000000, 10737418240, 0, 0),
  ('ENTERPRISE', 'Enterprise', 6000, 20, NULL, NULL, NULL, 1, 0);
--> statement-breakpoint
-- Shard registry rows for the D1 shard bindings declared in wrangler.toml.
INSERT INTO `shards` (`id`, `engine`, `binding`, `region`, `dedicated`, `status`, `created_at`) VALUES
  ('d1-shared-0', 'd1', 'SHARD_D1_0', NULL, 0, 'active', 0),
  ('d1-shared-1', 'd1', 'SHARD_D1_1', NULL, 0, 'active', 0);
