CREATE TABLE "audit_checkpoints" (
	"tenant_id" text COLLATE "C" NOT NULL,
	"seq" integer NOT NULL,
	"hash" text COLLATE "C" NOT NULL,
	"signed_at" bigint NOT NULL,
	"signature" text COLLATE "C" NOT NULL,
	CONSTRAINT "audit_checkpoints_tenant_id_seq_pk" PRIMARY KEY("tenant_id","seq")
);
--> statement-breakpoint
CREATE TABLE "audit_events" (
	"tenant_id" text COLLATE "C" NOT NULL,
	"seq" integer NOT NULL,
	"action" text COLLATE "C" NOT NULL,
	"actor_type" text COLLATE "C" NOT NULL,
	"actor_id" text COLLATE "C",
	"actor_key_prefix" text COLLATE "C",
	"targets" text COLLATE "C" NOT NULL,
	"context" text COLLATE "C" NOT NULL,
	"outcome_status" integer NOT NULL,
	"occurred_at" bigint NOT NULL,
	"origin" text COLLATE "C",
	"prev_hash" text COLLATE "C",
	"hash" text COLLATE "C",
	CONSTRAINT "audit_events_tenant_id_seq_pk" PRIMARY KEY("tenant_id","seq")
);
--> statement-breakpoint
CREATE TABLE "events" (
	"tenant_id" text COLLATE "C" NOT NULL,
	"seq" integer NOT NULL,
	"type" text COLLATE "C" NOT NULL,
	"subject_type" text COLLATE "C" NOT NULL,
	"subject_id" text COLLATE "C" NOT NULL,
	"data" jsonb NOT NULL,
	"occurred_at" bigint NOT NULL,
	"request_id" text COLLATE "C",
	"actor" jsonb NOT NULL,
	"origin" text COLLATE "C",
	"published_at" bigint,
	CONSTRAINT "events_tenant_id_seq_pk" PRIMARY KEY("tenant_id","seq")
);
--> statement-breakpoint
CREATE INDEX "audit_events_unchained_idx" ON "audit_events" USING btree ("hash","tenant_id","seq");--> statement-breakpoint
CREATE INDEX "audit_events_origin_idx" ON "audit_events" USING btree ("tenant_id","origin");--> statement-breakpoint
CREATE INDEX "events_unpublished_idx" ON "events" USING btree ("published_at","tenant_id","seq");--> statement-breakpoint
CREATE INDEX "events_origin_idx" ON "events" USING btree ("tenant_id","origin");