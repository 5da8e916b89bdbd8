-------------------------------------------------------------------------------
-- Audit (mpa.audit): checking the chain, and its head for external checkers.
-------------------------------------------------------------------------------

-- Walks the chain and names the first entry that breaks it (edited,
-- deleted, inserted or moved). Entries not chained yet are counted apart:
-- the mail worker chains them within moments of their commit.
CREATE OR REPLACE FUNCTION mpa_audit_verify(OUT intact boolean, OUT entries bigint, OUT first_broken_seq bigint,
                                 OUT first_broken_id bigint, OUT reason text, OUT unchained bigint)
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_audit_verify';

-- The chain's last entry. Every mail pg_mpa sends carries it, so a history
-- rewritten afterwards disagrees with what approvers already hold.
CREATE OR REPLACE FUNCTION mpa_audit_head(OUT seq bigint, OUT hash text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT seq, hash FROM mpa.audit WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1
$$;


-- The chain as text, to be checked away from the database by
-- tools/mpa_audit_check (one JSON object per line with every hashed field
-- and both hashes: src/core/audit_export.hpp). Entries from_seq..to_seq (to
-- the last chained one when to_seq is NULL): an export can continue an
-- earlier one from the entry after its last. Readable by everyone, like
-- mpa.audit itself. Write the file with psql -XAt (COPY's text format would
-- double the backslashes of the JSON).
CREATE OR REPLACE FUNCTION mpa_audit_export(from_seq bigint DEFAULT 1, to_seq bigint DEFAULT NULL)
  RETURNS TABLE (line text)
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_audit_export';
