-- pg_mpa's tables are written only by pg_mpa, for every role including
-- superusers (this test runs as one): direct writes are refused with
-- SQLSTATE MP001 and change nothing.
CREATE FUNCTION pg_temp.outcome(statement text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE statement;
  RETURN 'allowed';
EXCEPTION WHEN OTHERS THEN
  RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
CREATE TEMP TABLE before AS
  SELECT (SELECT count(*) FROM mpa.outbox) AS outbox, (SELECT count(*) FROM mpa.requests) AS requests,
         (SELECT count(*) FROM mpa.policies) AS policies, (SELECT count(*) FROM mpa.teams) AS teams;

SELECT pg_temp.outcome($$INSERT INTO mpa.teams (name, threshold) VALUES ('sp-rogue', 1)$$);
SELECT pg_temp.outcome($$UPDATE mpa.requests SET state = 'approved'$$);
SELECT pg_temp.outcome($$DELETE FROM mpa.policies$$);
SELECT pg_temp.outcome($$TRUNCATE mpa.outbox$$);
SELECT pg_temp.outcome($$TRUNCATE mpa.votes CASCADE$$);
SELECT pg_temp.outcome($$INSERT INTO mpa.outbox (kind, recipient, subject, body, message_id, expires_at)
                         VALUES ('test', 'x@example.com', 's', 'b', 'sp@x', now())$$);
SELECT pg_temp.outcome($$WITH gone AS (DELETE FROM mpa.votes RETURNING 1) SELECT count(*) FROM gone$$);
SELECT pg_temp.outcome($$COPY mpa.teams (name, threshold) FROM PROGRAM 'echo sp-copied,1' WITH (FORMAT csv)$$);

-- Not through a function of one's own either, not even SECURITY DEFINER.
CREATE FUNCTION sp_rogue_writer() RETURNS void LANGUAGE sql SECURITY DEFINER
  AS $$ UPDATE mpa.requests SET state = 'approved' WHERE false $$;
SELECT pg_temp.outcome($$SELECT sp_rogue_writer()$$);
DROP FUNCTION sp_rogue_writer();

-- Reading stays allowed.
SELECT pg_temp.outcome($$SELECT count(*) FROM mpa.requests$$);

SELECT (SELECT count(*) FROM mpa.outbox) = outbox AND (SELECT count(*) FROM mpa.requests) = requests
   AND (SELECT count(*) FROM mpa.policies) = policies AND (SELECT count(*) FROM mpa.teams) = teams
       AS nothing_changed
  FROM before;

-- pg_mpa's own functions still write (the name is new on every run).
SELECT 'sp-team-' || txid_current() AS new_team \gset
SELECT pg_temp.outcome(format('SELECT mpa_team_create(%L, 1)', :'new_team'));
SELECT count(*) AS created FROM mpa.teams WHERE name = :'new_team';
