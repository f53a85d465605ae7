CREATE TABLE `circuit_states` (
	`tenant_id` text NOT NULL,
	`dependency` text NOT NULL,
	`state` text NOT NULL,
	`changed_at` integer NOT NULL,
	PRIMARY KEY(`tenant_id`, `dependency`)
);
--> statement-breakpoint
CREATE INDEX `circuit_states_state_idx` ON `circuit_states` (`state`);--> statement-breakpoint
ALTER TABLE `tenants` ADD `provisioned_at` integer;