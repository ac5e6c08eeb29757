CREATE TABLE "smart_apps" (
	"client_id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"redirect_uris" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"launch_url" text,
	"scopes" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"jwks" jsonb,
	"granted_patients" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"granted_sections" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"service_user_id" uuid,
	"created_by" uuid,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "smart_assertions" (
	"client_id" text NOT NULL,
	"jti" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "smart_assertions_client_id_jti_pk" PRIMARY KEY("client_id","jti")
);
--> statement-breakpoint
CREATE TABLE "smart_refresh_tokens" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"token_hash" text NOT NULL,
	"client_id" text NOT NULL,
	"user_id" uuid NOT NULL,
	"session_id" uuid NOT NULL,
	"claims" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"used_at" timestamp with time zone,
	"revoked_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "smart_apps" ADD CONSTRAINT "smart_apps_service_user_id_users_id_fk" FOREIGN KEY ("service_user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "smart_refresh_tokens" ADD CONSTRAINT "smart_refresh_tokens_user_id_users_id_fk" FOREIGN KEY ("user_id") REFERENCES "public"."users"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "smart_refresh_tokens_hash_idx" ON "smart_refresh_tokens" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "smart_refresh_tokens_session_idx" ON "smart_refresh_tokens" USING btree ("session_id");--> statement-breakpoint
CREATE INDEX "smart_assertions_expires_idx" ON "smart_assertions" USING btree ("expires_at");
