CREATE TABLE `quota_trips` (
	`id` text PRIMARY KEY NOT NULL,
	`tenant_id` text NOT NULL,
	`quota` text NOT NULL,
	`period` text NOT NULL,
	`limit` integer NOT NULL,
	`tripped_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `quota_trips_tenant_idx` ON `quota_trips` (`tenant_id`,`period`);--> statement-breakpoint
ALTER TABLE `plans` ADD `pricing` text DEFAULT '{"currency":"usd","base_amount":0,"meters":{}}' NOT NULL;--> statement-breakpoint
-- Prices in minor units (cents): Free bills nothing; Standard and Enterprise a base price plus usage past what it includes.
UPDATE `plans` SET `pricing` = '{"currency":"usd","base_amount":2900,"meters":{"api_calls":{"included":1000000,"tiers_mode":"graduated","tiers":[{"up_to":4000000,"unit_amount_decimal":"0.02","flat_amount":0},{"up_to":null,"unit_amount_decimal":"0.01","flat_amount":0}],"divide_by":1},"egress_bytes":{"included":10000000000,"tiers_mode":"graduated","tiers":[{"up_to":null,"unit_amount_decimal":"9","flat_amount":0}],"divide_by":1000000000},"stored_bytes":{"included":1000000000,"tiers_mode":"volume","tiers":[{"up_to":null,"unit_amount_decimal":"25","flat_amount":0}],"divide_by":1000000000},"exports":{"included":10,"tiers_mode":"graduated","tiers":[{"up_to":null,"unit_amount_decimal":"50","flat_amount":0}],"divide_by":1}}}' WHERE `tier` = 'STANDARD';--> statement-breakpoint
UPDATE `plans` SET `pricing` = '{"currency":"usd","base_amount":49900,"meters":{"api_calls":{"included":50000000,"tiers_mode":"volume","tiers":[{"up_to":100000000,"unit_amount_decimal":"0.008","flat_amount":0},{"up_to":null,"unit_amount_decimal":"0.005","flat_amount":10000}],"divide_by":1},"egress_bytes":{"included":1000000000000,"tiers_mode":"graduated","tiers":[{"up_to":null,"unit_amount_decimal":"5","flat_amount":0}],"divide_by":1000000000},"stored_bytes":{"included":100000000000,"tiers_mode":"volume","tiers":[{"up_to":null,"unit_amount_decimal":"20","flat_amount":0}],"divide_by":1000000000}}}' WHERE `tier` = 'ENTERPRISE';
