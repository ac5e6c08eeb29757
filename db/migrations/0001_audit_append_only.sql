-- The audit trail is append-only for everyone who is not the table owner acting deliberately:
-- UPDATE, DELETE and TRUNCATE raise, on PGlite as on PostgreSQL. In production the app connects
-- as a role that is granted only INSERT and SELECT on audit_log (see SECURITY.md); the trigger
-- is the second wall, and it also catches the owner's accidents.
CREATE OR REPLACE FUNCTION vigil_audit_log_is_append_only() RETURNS trigger AS $$
BEGIN
  RAISE EXCEPTION 'audit_log is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER audit_log_no_update_delete BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION vigil_audit_log_is_append_only();
--> statement-breakpoint
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION vigil_audit_log_is_append_only();
