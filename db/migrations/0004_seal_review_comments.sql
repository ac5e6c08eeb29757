ALTER TABLE "break_glass_grants" RENAME COLUMN "review_comment" TO "sealed_review_comment";--> statement-breakpoint
ALTER TABLE "incidents" RENAME COLUMN "resolution_comment" TO "sealed_resolution_comment";--> statement-breakpoint
-- Comments written before this migration are plain text, and SQL cannot seal them. Mark them
-- 'plain:' (a sealed envelope is base64url and never holds a colon) for the upgrade step
-- (scripts/upgrade-database.ts), which seals each one and removes the plain text; until then
-- they read as unavailable.
UPDATE "break_glass_grants" SET "sealed_review_comment" = 'plain:' || "sealed_review_comment" WHERE "sealed_review_comment" IS NOT NULL;--> statement-breakpoint
UPDATE "incidents" SET "sealed_resolution_comment" = 'plain:' || "sealed_resolution_comment" WHERE "sealed_resolution_comment" IS NOT NULL;
