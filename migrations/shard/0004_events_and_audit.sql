CREATE TABLE `audit_checkpoints` (
	`tenant_id` text NOT NULL,
	`seq` integer NOT NULL,
	`hash` text NOT NULL,
	`signed_at` integer NOT NULL,
	`signature` text NOT NULL,
	PRIMARY KEY(`tenant_id`, `seq`)
);
--> statement-breakpoint
CREATE TABLE `audit_events` (
	`tenant_id` text NOT NULL,
	`seq` integer NOT NULL,
	`action` text NOT NULL,
	`actor_type` text NOT NULL,
	`actor_id` text,
	`actor_key_prefix` text,
	`targets` text NOT NULL,
	`context` text NOT NULL,
	`outcome_status` integer NOT NULL,
	`occurred_at` integer NOT NULL,
	`origin` text,
	`prev_hash` text,
	`hash` text,
	PRIMARY KEY(`tenant_id`, `seq`)
);
--> statement-breakpoint
CREATE INDEX `audit_events_unchained_idx` ON `audit_events` (`hash`,`tenant_id`,`seq`);--> statement-breakpoint
CREATE INDEX `audit_events_origin_idx` ON `audit_events` (`tenant_id`,`origin`);--> statement-breakpoint
CREATE TABLE `events` (
	`tenant_id` text NOT NULL,
	`seq` integer NOT NULL,
	`type` text NOT NULL,
	`subject_type` text NOT NULL,
	`subject_id` text NOT NULL,
	`data` text NOT NULL,
	`occurred_at` integer NOT NULL,
	`request_id` text,
	`actor` text NOT NULL,
	`origin` text,
	`published_at` integer,
	PRIMARY KEY(`tenant_id`, `seq`)
);
--> statement-breakpoint
CREATE INDEX `events_unpublished_idx` ON `events` (`published_at`,`tenant_id`,`seq`);--> statement-breakpoint
CREATE INDEX `events_origin_idx` ON `events` (`tenant_id`,`origin`);