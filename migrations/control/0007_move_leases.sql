ALTER TABLE `tenant_moves` ADD `lease_token` text;--> statement-breakpoint
ALTER TABLE `tenant_moves` ADD `next_step_at` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `tenant_moves` ADD `step_seq` integer DEFAULT 0 NOT NULL;