-- The audit trail becomes several hash chains (partitions) instead of one, so PHI transactions no
-- longer queue behind one lock held to commit (docs/audit.md, "Several chains"). Every entry
-- keeps its global `seq` (now from a sequence: an identifier in roughly commit order, with gaps
-- where a transaction rolled back) and gains its chain and its position in that chain.
ALTER TABLE "audit_log" ADD COLUMN "chain" integer DEFAULT 0 NOT NULL;
--> statement-breakpoint
ALTER TABLE "audit_log" ADD COLUMN "chain_seq" bigint;
--> statement-breakpoint
-- The trail written before this change is chain 0, its positions its seq. The hashes do not
-- cover chain or chain_seq (an entry's place is bound by the link to its predecessor), so
-- this one owner-run numbering leaves every existing entry verifiable.
ALTER TABLE "audit_log" DISABLE TRIGGER "audit_log_no_update_delete";
--> statement-breakpoint
UPDATE "audit_log" SET "chain_seq" = "seq";
--> statement-breakpoint
ALTER TABLE "audit_log" ENABLE TRIGGER "audit_log_no_update_delete";
--> statement-breakpoint
ALTER TABLE "audit_log" ALTER COLUMN "chain_seq" SET NOT NULL;
--> statement-breakpoint
-- One position per chain: a writer that somehow read a stale head gets an error, never a fork.
CREATE UNIQUE INDEX "audit_chain_position_idx" ON "audit_log" USING btree ("chain","chain_seq");
--> statement-breakpoint
CREATE SEQUENCE "audit_log_seq" AS bigint OWNED BY "audit_log"."seq";
--> statement-breakpoint
SELECT setval('audit_log_seq', coalesce((SELECT max("seq") FROM "audit_log"), 0) + 1, false);
--> statement-breakpoint
-- Taking a number is harmless (a burnt number is a gap, and gaps in seq mean nothing), and the
-- app role must be able to: granted to every role rather than naming the deployment's.
GRANT USAGE ON SEQUENCE "audit_log_seq" TO PUBLIC;
--> statement-breakpoint
-- One round trip at the start of an append: lock the first free chain from `preferred` on (the
-- chain this transaction already holds, or 0: a quiet system writes one chain), then read its
-- head — in that order, as two statements, so the head is read in a snapshot taken after the
-- lock. Blocks only when every chain is busy, and then on the first one, holding none.
CREATE FUNCTION vigil_audit_claim_chain(chains integer, preferred integer)
  RETURNS TABLE (claimed_chain integer, head_position bigint, head_hash text, next_seq bigint)
  LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  start integer := greatest(preferred, 0) % chains;
  candidate integer;
  claimed integer;
BEGIN
  FOR i IN 0 .. chains - 1 LOOP
    candidate := (start + i) % chains;
    IF pg_try_advisory_xact_lock(1986488169, candidate) THEN
      claimed := candidate;
      EXIT;
    END IF;
  END LOOP;
  IF claimed IS NULL THEN
    claimed := start;
    PERFORM pg_advisory_xact_lock(1986488169, claimed);
  END IF;
  RETURN QUERY
    SELECT claimed, coalesce(h.chain_seq, 0)::bigint, h.hash, nextval('audit_log_seq')
    FROM (SELECT 1) AS one
    LEFT JOIN LATERAL (SELECT a.chain_seq, a.hash FROM audit_log a WHERE a.chain = claimed ORDER BY a.chain_seq DESC LIMIT 1) AS h ON true;
END;
$$;
