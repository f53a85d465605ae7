CREATE TABLE `dead_letters` (
	`id` text PRIMARY KEY NOT NULL,
	`message_id` text NOT NULL,
	`source` text NOT NULL,
	`kind` text,
	`tenant_id` text,
	`body` text NOT NULL,
	`received_at` integer NOT NULL,
	`replays` integer DEFAULT 0 NOT NULL,
	`replayed_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `dead_letters_message_id_unique` ON `dead_letters` (`message_id`);--> statement-breakpoint
CREATE INDEX `dead_letters_tenant_idx` ON `dead_letters` (`tenant_id`,`id`);--> statement-breakpoint
CREATE INDEX `dead_letters_received_idx` ON `dead_letters` (`received_at`);--> statement-breakpoint
CREATE TABLE `tenant_archives` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`kind` text NOT NULL,
	`state` text NOT NULL,
	`object_key` text NOT NULL,
	`shard_id` text,
	`rows_written` integer DEFAULT 0 NOT NULL,
	`rows_expected` integer,
	`rows` integer,
	`bytes` integer,
	`format_version` integer,
	`manifest_sha256` text,
	`feed_before_seq` integer,
	`feed_after_seq` integer,
	`attempts` integer DEFAULT 0 NOT NULL,
	`error` text,
	`lease_until` integer DEFAULT 0 NOT NULL,
	`lease_token` text,
	`next_step_at` integer DEFAULT 0 NOT NULL,
	`step_seq` integer DEFAULT 0 NOT NULL,
	`requested_by` text NOT NULL,
	`request_id` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	`completed_at` integer,
	`expires_at` integer,
	`dedupe_key` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tenant_archives_one_running` ON `tenant_archives` (`tenant_id`,`kind`) WHERE "tenant_archives"."state" IN ('queued', 'writing', 'verifying');--> statement-breakpoint
CREATE INDEX `tenant_archives_tenant_idx` ON `tenant_archives` (`tenant_id`,`kind`,`id`);--> statement-breakpoint
CREATE INDEX `tenant_archives_state_idx` ON `tenant_archives` (`state`,`next_step_at`);--> statement-breakpoint
CREATE INDEX `tenant_archives_expiry_idx` ON `tenant_archives` (`expires_at`);--> statement-breakpoint
CREATE UNIQUE INDEX `tenant_archives_dedupe` ON `tenant_archives` (`tenant_id`,`kind`,`dedupe_key`);--> statement-breakpoint
ALTER TABLE `plans` ADD `backups_kept` integer DEFAULT 5 NOT NULL;--> statement-breakpoint
-- Backups kept per plan: FREE 3, STANDARD 5 (the column's default), ENTERPRISE 14.
UPDATE `plans` SET `backups_kept` = 3 WHERE `tier` = 'FREE';--> statement-breakpoint
UPDATE `plans` SET `backups_kept` = 14 WHERE `tier` = 'ENTERPRISE';--> statement-breakpoint
ALTER TABLE `tenants` ADD `deleted_at` integer;--> statement-breakpoint
ALTER TABLE `tenants` ADD `status_before_delete` text;--> statement-breakpoint
ALTER TABLE `tenants` ADD `purge_after` integer;--> statement-breakpoint
ALTER TABLE `tenants` ADD `purge_started_at` integer;--> statement-breakpoint
CREATE INDEX `tenants_purge_idx` ON `tenants` (`purge_after`,`id`);