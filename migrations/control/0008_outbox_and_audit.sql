CREATE TABLE `event_cursors` (
	`tenant_id` text PRIMARY KEY NOT NULL,
	`through_seq` integer NOT NULL,
	`ahead` text NOT NULL,
	`delivered` integer NOT NULL,
	`duplicates` integer NOT NULL,
	`version` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `outbox` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`tenant_id` text NOT NULL,
	`kind` text NOT NULL,
	`payload` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `outbox_tenant_idx` ON `outbox` (`tenant_id`,`id`);--> statement-breakpoint
CREATE TABLE `platform_audit_checkpoints` (
	`seq` integer PRIMARY KEY NOT NULL,
	`hash` text NOT NULL,
	`signed_at` integer NOT NULL,
	`signature` text NOT NULL
);
--> statement-breakpoint
CREATE TABLE `platform_audit_events` (
	`seq` integer PRIMARY KEY NOT NULL,
	`action` text NOT NULL,
	`actor_type` text NOT NULL,
	`actor_id` text,
	`actor_key_prefix` text,
	`targets` text NOT NULL,
	`context` text NOT NULL,
	`outcome_status` integer NOT NULL,
	`occurred_at` integer NOT NULL,
	`prev_hash` text,
	`hash` text
);
--> statement-breakpoint
ALTER TABLE `plans` ADD `audit_retention_days` integer DEFAULT 30 NOT NULL;--> statement-breakpoint
-- Audit retention per plan: FREE 30 days (the column's default), STANDARD 90, ENTERPRISE 365.
UPDATE `plans` SET `audit_retention_days` = 90 WHERE `tier` = 'STANDARD';--> statement-breakpoint
UPDATE `plans` SET `audit_retention_days` = 365 WHERE `tier` = 'ENTERPRISE';
