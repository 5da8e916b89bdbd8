-------------------------------------------------------------------------------
-- Audit (mpa.audit): checking the chain, and its head for external checkers.
-------------------------------------------------------------------------------

-- Walks the chain and names the first entry that breaks it (edited,
-- deleted, inserted or moved). Entries not chained yet are counted apart:
-- the mail worker chains them within moments of their commit.
CREATE FUNCTION mpa_audit_verify(OUT intact boolean, OUT entries bigint, OUT first_broken_seq bigint,
                                 OUT first_broken_id bigint, OUT reason text, OUT unchained bigint)
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_audit_verify';

-- The chain's last entry. Every mail pg_mpa sends carries it, so a history
-- rewritten afterwards disagrees with what approvers already hold.
CREATE FUNCTION mpa_audit_head(OUT seq bigint, OUT hash text)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT seq, hash FROM mpa.audit WHERE seq IS NOT NULL ORDER BY seq DESC LIMIT 1
$$;

