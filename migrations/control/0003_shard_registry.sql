CREATE TABLE `placement_cursors` (
	`pool` text PRIMARY KEY NOT NULL,
	`next` integer NOT NULL
);
--> statement-breakpoint
ALTER TABLE `shards` ADD `health` text DEFAULT 'unknown' NOT NULL;--> statement-breakpoint
ALTER TABLE `shards` ADD `health_detail` text;--> statement-breakpoint
ALTER TABLE `shards` ADD `probed_at` integer;--> statement-breakpoint
ALTER TABLE `shards` ADD `probe_ms` integer;--> statement-breakpoint
ALTER TABLE `shards` ADD `entry_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `shards` ADD `stored_bytes` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `tenants` ADD `data_region` text;--> statement-breakpoint
CREATE INDEX `tenants_shard_idx` ON `tenants` (`shard_id`);