CREATE TABLE "entries" (
	"tenant_id" text COLLATE "C" NOT NULL,
	"id" text COLLATE "C" NOT NULL,
	"data" jsonb NOT NULL,
	"tags" jsonb NOT NULL,
	"version" integer NOT NULL,
	"size_bytes" integer NOT NULL,
	"created_at" bigint NOT NULL,
	"updated_at" bigint NOT NULL,
	CONSTRAINT "entries_tenant_id_id_pk" PRIMARY KEY("tenant_id","id")
);
--> statement-breakpoint
CREATE TABLE "entry_tags" (
	"tenant_id" text COLLATE "C" NOT NULL,
	"tag" text COLLATE "C" NOT NULL,
	"entry_id" text COLLATE "C" NOT NULL,
	CONSTRAINT "entry_tags_tenant_id_tag_entry_id_pk" PRIMARY KEY("tenant_id","tag","entry_id")
);
--> statement-breakpoint
CREATE TABLE "shard_tenants" (
	"tenant_id" text COLLATE "C" PRIMARY KEY NOT NULL,
	"provisioned_at" bigint NOT NULL,
	"entry_count" integer DEFAULT 0 NOT NULL,
	"stored_bytes" bigint DEFAULT 0 NOT NULL,
	"max_entries" integer,
	"max_stored_bytes" bigint
);
--> statement-breakpoint
CREATE INDEX "entry_tags_entry_idx" ON "entry_tags" USING btree ("tenant_id","entry_id");