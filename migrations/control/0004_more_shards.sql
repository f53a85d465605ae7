-- Regions for data residency, a third shared shard in the EU and a dedicated shard for
-- ENTERPRISE tenants (bindings declared in wrangler.toml).
UPDATE `shards` SET `region` = 'us' WHERE `id` IN ('d1-shared-0', 'd1-shared-1');
--> statement-breakpoint
INSERT INTO `shards` (`id`, `engine`, `binding`, `region`, `dedicated`, `status`, `created_at`) VALUES
  ('d1-shared-2', 'd1', 'SHARD_D1_2', 'eu', 0, 'active', 0),
  ('d1-dedicated-0', 'd1', 'SHARD_D1_DEDICATED_0', 'us', 1, 'active', 0);
