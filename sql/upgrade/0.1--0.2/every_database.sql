-- Every database of the cluster (#19): the schema's part of the upgrade
-- from 0.1 (the functions come from sql/install/; docs/decisions.md,
-- "Every database").

-- Whose objects a policy names: NULL keeps 0.1's meaning (mpa.database's,
-- and for a cluster-wide operation every database), so no row changes.
ALTER TABLE mpa.policies ADD COLUMN database text;
ALTER TABLE mpa.policies DROP CONSTRAINT policies_operation_object_key;
ALTER TABLE mpa.policies ADD CONSTRAINT policies_operation_object_database_key
  UNIQUE NULLS NOT DISTINCT (operation, object, database);

-- mpa_protect and mpa_unprotect gained their database argument.
DROP FUNCTION mpa_protect(text, text, text);
DROP FUNCTION mpa_unprotect(text, text);

-- Requests for another database's objects, and their execution claimed
-- there (the state 'executing').
ALTER TABLE mpa.requests DROP CONSTRAINT requests_state_check,
  ADD CONSTRAINT requests_state_check
    CHECK (state IN ('pending', 'approved', 'executing', 'executed', 'rejected', 'expired', 'cancelled'));
ALTER TABLE mpa.requests
  ADD COLUMN database text,
  ADD COLUMN database_oid oid,
  ADD CONSTRAINT requests_database_named CHECK ((database IS NULL) = (database_oid IS NULL)),
  ADD COLUMN cascade_descriptions text[],
  ADD COLUMN executing_xid xid8,
  ADD COLUMN executing_since timestamptz,
  ADD CONSTRAINT requests_executing_has_xid CHECK (state <> 'executing' OR executing_xid IS NOT NULL);

-- mpa.create_request gained its database argument (mpa_request(...,
-- database => ...)).
DROP FUNCTION mpa.create_request(text, text, text, interval);

-- Mail that says where and links there (#20): when the approvers who had
-- not voted were reminded; mpa.queue_mail names the request its mail is
-- about (the column mpa.outbox.request_id comes with sql/install).
ALTER TABLE mpa.requests ADD COLUMN reminded_at timestamptz;
DROP FUNCTION mpa.queue_mail(text, text, text, text, int, text, bigint);

-- Requesters' addresses for notices (#20): a confirmation of one is a
-- challenge of its own kind, without request (the table comes with
-- sql/install).
ALTER TABLE mpa.challenges DROP CONSTRAINT challenges_decision_check,
  ADD CONSTRAINT challenges_decision_check CHECK (decision IN ('approve', 'reject', 'confirm', 'notices')),
  DROP CONSTRAINT challenges_check,
  ADD CONSTRAINT challenges_check CHECK ((decision IN ('confirm', 'notices')) = (request_id IS NULL));
