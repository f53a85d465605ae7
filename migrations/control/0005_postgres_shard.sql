-- The PostgreSQL shard reached through the SHARD_PG_0 Hyperdrive binding: shared, region us,
-- placed on in turn with the shared D1 shards.
INSERT INTO `shards` (`id`, `engine`, `binding`, `region`, `dedicated`, `status`, `created_at`) VALUES
  ('pg-0', 'postgres', 'SHARD_PG_0', 'us', 0, 'active', 0);
