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

-------------------------------------------------------------------------------
-- Dry-run policies (docs/decisions.md, "Policy modes"): what each would have
-- refused, from the audit entries of kind 'dry-run' the gate records.
-------------------------------------------------------------------------------

-- One row per policy, object reached and role: how many statements, when
-- first and last. mode_now: the policy's mode today (NULL once removed),
-- so that the history of a policy switched to enforcing stays readable.
CREATE OR REPLACE VIEW mpa.dry_run AS
  SELECT g.policy_id, g.operation, g.pattern, g.database, g.team, g.target, g.role, g.statements,
         g.first_seen, g.last_seen, p.mode AS mode_now
    FROM (SELECT (a.detail->>'policy')::bigint AS policy_id, a.detail->>'operation' AS operation,
                 a.detail->>'pattern' AS pattern, a.database, a.detail->>'team' AS team,
                 a.detail->>'target' AS target, a.actor AS role, count(*) AS statements,
                 min(a.recorded_at) AS first_seen, max(a.recorded_at) AS last_seen
            FROM mpa.audit a
           WHERE a.kind = 'dry-run'
           GROUP BY 1, 2, 3, 4, 5, 6, 7) g
    LEFT JOIN mpa.policies p ON p.id = g.policy_id;
GRANT SELECT ON mpa.dry_run TO PUBLIC;
