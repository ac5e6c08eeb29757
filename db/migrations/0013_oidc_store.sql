-- The SMART authorization server is oidc-provider (lib/features/fhir/oidc-provider.ts). What it
-- keeps between requests (interactions, grants, authorization codes, refresh tokens, client
-- assertion ids seen) lives here, so every instance behind the load balancer shares it and a
-- restart loses nothing. The hand-written server's own tables go with it.
CREATE TABLE "oidc_records" (
	"model" text NOT NULL,
	"id" text NOT NULL,
	"payload" jsonb NOT NULL,
	"grant_id" text,
	"uid" text,
	"expires_at" timestamp with time zone,
	"consumed_at" timestamp with time zone,
	CONSTRAINT "oidc_records_model_id_pk" PRIMARY KEY("model","id")
);--> statement-breakpoint
CREATE INDEX "oidc_records_grant_idx" ON "oidc_records" USING btree ("grant_id");--> statement-breakpoint
CREATE INDEX "oidc_records_uid_idx" ON "oidc_records" USING btree ("uid");--> statement-breakpoint
CREATE INDEX "oidc_records_expires_idx" ON "oidc_records" USING btree ("expires_at");--> statement-breakpoint
DROP TABLE "smart_refresh_tokens";--> statement-breakpoint
DROP TABLE "smart_assertions";
