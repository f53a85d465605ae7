CREATE TABLE `slow_queries` (
	`id` text PRIMARY KEY NOT NULL,
	`shard_id` text NOT NULL,
	`tenant_id` text NOT NULL,
	`at` integer NOT NULL,
	`name` text NOT NULL,
	`ms` real NOT NULL,
	`failed` integer NOT NULL,
	`route` text
);
--> statement-breakpoint
CREATE INDEX `slow_queries_shard_idx` ON `slow_queries` (`shard_id`,`id`);--> statement-breakpoint
CREATE INDEX `slow_queries_tenant_idx` ON `slow_queries` (`tenant_id`);--> statement-breakpoint
CREATE INDEX `slow_queries_at_idx` ON `slow_queries` (`at`);--> statement-breakpoint
CREATE TABLE `usage_daily` (
	`tenant_id` text NOT NULL,
	`meter` text NOT NULL,
	`day` integer NOT NULL,
	`quantity` real NOT NULL,
	`max` integer,
	`last` integer,
	`covered_ms` integer,
	PRIMARY KEY(`tenant_id`, `meter`, `day`)
);
--> statement-breakpoint
CREATE TABLE `usage_hourly` (
	`tenant_id` text NOT NULL,
	`meter` text NOT NULL,
	`hour` integer NOT NULL,
	`quantity` real NOT NULL,
	`max` integer,
	`last` integer,
	`covered_ms` integer,
	`stated_at` integer,
	PRIMARY KEY(`tenant_id`, `meter`, `hour`)
);
--> statement-breakpoint
CREATE TABLE `usage_records` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`meter` text NOT NULL,
	`hour` integer NOT NULL,
	`received_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `usage_records_tenant_idx` ON `usage_records` (`tenant_id`,`received_at`);