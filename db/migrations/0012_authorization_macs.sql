-- Keyed MACs over the security-relevant columns of the authorization tables
-- (lib/platform/integrity/authorization-macs.ts). The key is derived from the key provider's system
-- key, so the database cannot compute one: existing rows get theirs from the upgrade step
-- (lib/ops/upgrades/mac-authorization-rows.ts), and until then a row without one is not trusted.
ALTER TABLE "users" ADD COLUMN "auth_mac" text;--> statement-breakpoint
ALTER TABLE "sessions" ADD COLUMN "auth_mac" text;--> statement-breakpoint
ALTER TABLE "user_roles" ADD COLUMN "auth_mac" text;--> statement-breakpoint
ALTER TABLE "care_team" ADD COLUMN "auth_mac" text;--> statement-breakpoint
ALTER TABLE "break_glass_grants" ADD COLUMN "auth_mac" text;
