ALTER TABLE `api_keys` ADD `rate_limit_per_minute` integer;--> statement-breakpoint
ALTER TABLE `tenants` ADD `limit_overrides` text DEFAULT '{}' NOT NULL;