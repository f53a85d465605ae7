ALTER TABLE `shard_tenants` ADD `entry_count` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `shard_tenants` ADD `stored_bytes` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `shard_tenants` ADD `max_entries` integer;--> statement-breakpoint
ALTER TABLE `shard_tenants` ADD `max_stored_bytes` integer;