CREATE TABLE `stream_tickets` (
	`id` text PRIMARY KEY NOT NULL,
	`secret_hash` text,
	`tenant_id` text NOT NULL,
	`key_id` text NOT NULL,
	`types` text,
	`expires_at` integer NOT NULL,
	`used_at` integer,
	`created_at` integer NOT NULL,
	FOREIGN KEY (`tenant_id`) REFERENCES `tenants`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `stream_tickets_secret_idx` ON `stream_tickets` (`secret_hash`);--> statement-breakpoint
CREATE INDEX `stream_tickets_tenant_idx` ON `stream_tickets` (`tenant_id`,`id`);--> statement-breakpoint
CREATE INDEX `stream_tickets_expiry_idx` ON `stream_tickets` (`expires_at`);--> statement-breakpoint
ALTER TABLE `plans` ADD `stream_connections` integer DEFAULT 10 NOT NULL;--> statement-breakpoint
UPDATE `plans` SET `stream_connections` = 2 WHERE `tier` = 'FREE';--> statement-breakpoint
UPDATE `plans` SET `stream_connections` = 25 WHERE `tier` = 'STANDARD';--> statement-breakpoint
UPDATE `plans` SET `stream_connections` = 500 WHERE `tier` = 'ENTERPRISE';
