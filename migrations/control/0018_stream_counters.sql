CREATE TABLE `stream_counters` (
	`tenant_id` text PRIMARY KEY NOT NULL,
	`active` integer NOT NULL,
	`opened` integer NOT NULL,
	`refused` integer NOT NULL,
	`dropped` integer NOT NULL,
	`resyncs` integer NOT NULL,
	`coalesced` integer NOT NULL,
	`reported_at` integer NOT NULL
);
