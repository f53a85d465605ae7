CREATE TABLE `tenant_moves` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`source_shard_id` text NOT NULL,
	`target_shard_id` text NOT NULL,
	`state` text NOT NULL,
	`copy_cursor` text,
	`rows_total` integer,
	`rows_copied` integer DEFAULT 0 NOT NULL,
	`rows_verified` integer,
	`checksum` text,
	`attempts` integer DEFAULT 0 NOT NULL,
	`error` text,
	`lease_until` integer DEFAULT 0 NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`switched_at` integer,
	`finished_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tenant_moves_one_running` ON `tenant_moves` (`tenant_id`) WHERE "tenant_moves"."state" NOT IN ('completed', 'failed');--> statement-breakpoint
CREATE INDEX `tenant_moves_tenant_idx` ON `tenant_moves` (`tenant_id`,`id`);--> statement-breakpoint
CREATE INDEX `tenant_moves_state_idx` ON `tenant_moves` (`state`,`updated_at`);