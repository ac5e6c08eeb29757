CREATE TABLE "chart_pages" (
	"patient_id" uuid NOT NULL,
	"section" text NOT NULL,
	"page_no" integer NOT NULL,
	"sealed_entries" text NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "chart_pages_patient_id_section_page_no_pk" PRIMARY KEY("patient_id","section","page_no")
);
--> statement-breakpoint
ALTER TABLE "allergies" ALTER COLUMN "sealed_body" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "encounters" ALTER COLUMN "sealed_body" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "medications" ALTER COLUMN "sealed_body" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "nursing_notes" ALTER COLUMN "sealed_body" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "problems" ALTER COLUMN "sealed_body" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "progress_notes" ALTER COLUMN "sealed_body" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "vitals" ALTER COLUMN "sealed_body" DROP NOT NULL;--> statement-breakpoint
ALTER TABLE "allergies" ADD COLUMN "page_no" integer;--> statement-breakpoint
ALTER TABLE "encounters" ADD COLUMN "page_no" integer;--> statement-breakpoint
ALTER TABLE "medications" ADD COLUMN "page_no" integer;--> statement-breakpoint
ALTER TABLE "nursing_notes" ADD COLUMN "page_no" integer;--> statement-breakpoint
ALTER TABLE "problems" ADD COLUMN "page_no" integer;--> statement-breakpoint
ALTER TABLE "progress_notes" ADD COLUMN "page_no" integer;--> statement-breakpoint
ALTER TABLE "vitals" ADD COLUMN "page_no" integer;--> statement-breakpoint
ALTER TABLE "chart_pages" ADD CONSTRAINT "chart_pages_patient_id_patients_id_fk" FOREIGN KEY ("patient_id") REFERENCES "public"."patients"("id") ON DELETE no action ON UPDATE no action;