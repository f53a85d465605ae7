CREATE TABLE `entries` (
	`tenant_id` text NOT NULL,
	`id` text NOT NULL,
	`data` text NOT NULL,
	`tags` text NOT NULL,
	`version` integer NOT NULL,
	`size_bytes` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `id`)
);
--> statement-breakpoint
CREATE TABLE `entry_tags` (
	`tenant_id` text NOT NULL,
	`tag` text NOT NULL,
	`entry_id` text NOT NULL,
	PRIMARY KEY(`tenant_id`, `tag`, `entry_id`)
);
--> statement-breakpoint
CREATE INDEX `entry_tags_entry_idx` ON `entry_tags` (`tenant_id`,`entry_id`);--> statement-breakpoint
CREATE TABLE `shard_tenants` (
	`tenant_id` text PRIMARY KEY NOT NULL,
	`provisioned_at` integer NOT NULL
);
