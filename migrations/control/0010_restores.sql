CREATE TABLE `tenant_restores` (
	`id` text PRIMARY KEY NOT NULL,
	`kind` text NOT NULL,
	`tenant_id` text NOT NULL,
	`target_tenant_id` text NOT NULL,
	`state` text NOT NULL,
	`archive_id` text,
	`target_shard_id` text,
	`staging_id` text,
	`at` integer,
	`from_seq` integer,
	`to_seq` integer,
	`replayed_seq` integer,
	`events_applied` integer DEFAULT 0 NOT NULL,
	`rows_imported` integer DEFAULT 0 NOT NULL,
	`rows_changed` integer DEFAULT 0 NOT NULL,
	`apply_cursor` text,
	`checksum` text,
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
	`completed_at` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tenant_restores_one_running` ON `tenant_restores` (`tenant_id`) WHERE "tenant_restores"."state" IN ('queued', 'importing', 'replaying', 'applying', 'verifying');--> statement-breakpoint
CREATE INDEX `tenant_restores_tenant_idx` ON `tenant_restores` (`tenant_id`,`id`);--> statement-breakpoint
CREATE INDEX `tenant_restores_target_idx` ON `tenant_restores` (`target_tenant_id`);--> statement-breakpoint
CREATE INDEX `tenant_restores_state_idx` ON `tenant_restores` (`state`,`next_step_at`);--> statement-breakpoint
ALTER TABLE `tenants` ADD `last_active_at` integer;--> statement-breakpoint
ALTER TABLE `tenants` ADD `archived_at` integer;--> statement-breakpoint
CREATE INDEX `tenants_trial_idx` ON `tenants` (`trial_ends_at`,`id`);