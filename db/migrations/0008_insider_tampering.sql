ALTER TABLE "api_clients" ADD COLUMN "signing_key" jsonb;--> statement-breakpoint
CREATE TABLE "api_client_patients" (
	"client_id" uuid NOT NULL,
	"patient_id" uuid NOT NULL,
	"added_by" uuid,
	"added_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "api_client_patients_client_id_patient_id_pk" PRIMARY KEY("client_id","patient_id")
);
--> statement-breakpoint
ALTER TABLE "api_client_patients" ADD CONSTRAINT "api_client_patients_client_id_api_clients_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."api_clients"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "api_client_patients" ADD CONSTRAINT "api_client_patients_patient_id_patients_id_fk" FOREIGN KEY ("patient_id") REFERENCES "public"."patients"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE TABLE "api_client_messages" (
	"client_id" uuid NOT NULL,
	"jti" text NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	CONSTRAINT "api_client_messages_client_id_jti_pk" PRIMARY KEY("client_id","jti")
);
--> statement-breakpoint
ALTER TABLE "api_client_messages" ADD CONSTRAINT "api_client_messages_client_id_api_clients_id_fk" FOREIGN KEY ("client_id") REFERENCES "public"."api_clients"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "api_client_messages_expiry_idx" ON "api_client_messages" USING btree ("expires_at");
--> statement-breakpoint
ALTER TABLE "chart_pages" ADD COLUMN "version" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
CREATE TABLE "chart_section_heads" (
	"patient_id" uuid NOT NULL,
	"section" text NOT NULL,
	"sealed_head" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "chart_section_heads_patient_id_section_pk" PRIMARY KEY("patient_id","section")
);
--> statement-breakpoint
ALTER TABLE "chart_section_heads" ADD CONSTRAINT "chart_section_heads_patient_id_patients_id_fk" FOREIGN KEY ("patient_id") REFERENCES "public"."patients"("id") ON DELETE no action ON UPDATE no action;
