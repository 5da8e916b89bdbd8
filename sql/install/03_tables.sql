-------------------------------------------------------------------------------
-- Approval: teams, approvers, policies, requests, votes, challenges.
-------------------------------------------------------------------------------

CREATE TABLE IF NOT EXISTS mpa.teams (
  name        text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_][A-Za-z0-9_. -]{0,62}$'),
  threshold   integer NOT NULL CHECK (threshold >= 1),
  description text CHECK (length(description) <= 1000),
  created_at  timestamptz NOT NULL DEFAULT now(),
  baselined_at timestamptz,          -- last mpa_team_baseline()
  quorum_reachable boolean           -- as last seen by the worker (mpa.check_team_health)
);

-- An approver's address is confirmed by a code mailed to it: at enrolment,
-- after an approved change of address (the new one takes over only once it
-- confirmed; the old one is told), and when the team is baselined. A vote
-- confirmed with a code mailed to the address also proves it.
CREATE TABLE IF NOT EXISTS mpa.approvers (
  team      text NOT NULL REFERENCES mpa.teams ON UPDATE CASCADE,
  approver  regrole NOT NULL,
  email     text NOT NULL,
  added_at  timestamptz NOT NULL DEFAULT now(),
  verified_at    timestamptz,            -- NULL: the address never confirmed a code
  last_active_at timestamptz,            -- last vote or confirmation
  pending_email  text,                   -- an approved new address, until it confirms
  confirmation_started_at timestamptz,   -- start of the current confirmation (its tries are counted together)
  PRIMARY KEY (team, approver)
);

-- operation: a PostgreSQL command tag ('DROP TABLE'); object: 'schema.name',
-- 'schema.*', '*' or a bare name for objects outside schemas (roles,
-- databases, settings). The most specific matching policy decides the team.
-- database: whose objects (NULL: mpa.database's, and for a cluster-wide
-- operation every database, as in 0.1; '*': every database's; else a
-- database's name); one policy per operation, object and database
-- (docs/decisions.md, "Every database").
CREATE TABLE IF NOT EXISTS mpa.policies (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  operation  text NOT NULL,
  object     text NOT NULL,
  team       text NOT NULL REFERENCES mpa.teams ON UPDATE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  database   text,
  -- 'dry-run': matching statements run and are recorded, never refused
  -- (docs/decisions.md, "Policy modes"); last, where the 0.1 upgrade
  -- step adds it.
  mode       text NOT NULL DEFAULT 'enforce' CONSTRAINT policies_mode_check CHECK (mode IN ('enforce', 'dry-run')),
  -- Several teams (mpa.policy_teams): whether a vote counts for every team
  -- of its voter (true) or for one (docs/decisions.md, "Several teams").
  shared_votes boolean NOT NULL DEFAULT false,
  CONSTRAINT policies_operation_object_database_key UNIQUE NULLS NOT DISTINCT (operation, object, database)
);

CREATE TABLE IF NOT EXISTS mpa.requests (
  id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  statement      text NOT NULL,
  justification  text NOT NULL,
  operation      text NOT NULL,
  object         text NOT NULL,          -- the first target, as policies name it
  target_classes oid[] NOT NULL,         -- targets by OID: a renamed, dropped and
  target_oids    oid[] NOT NULL,         -- recreated object voids the approval
  fingerprint    text NOT NULL,          -- SHA-256 of the normalised statement
  -- The team by name, without a foreign key: a team can be dropped once
  -- none of its requests is open (mpa_team_drop), and its closed requests
  -- keep its name as the record. The functions that make requests lock the
  -- team's row (FOR KEY SHARE) as the key did, so a drop and a new request
  -- of the team wait for each other.
  team           text NOT NULL,
  threshold      integer NOT NULL,       -- the team's threshold when requested
  requester      regrole NOT NULL,       -- the authenticated (session) role
  state          text NOT NULL DEFAULT 'pending'
                 CHECK (state IN ('pending', 'approved', 'executing', 'executed', 'rejected', 'expired', 'cancelled')),
  created_at     timestamptz NOT NULL DEFAULT now(),
  expires_at     timestamptz NOT NULL,
  decided_at     timestamptz,
  executed_at    timestamptz,
  -- Temporary grants: how long the approved GRANT holds once executed, and
  -- the REVOKE the worker runs when it ends (both shown to approvers).
  valid_for      interval CHECK (valid_for > interval '0'),
  revoke_statement text,
  -- Application-defined approvals (mpa_request_action): operation 'ACTION',
  -- object the action's name, statement the payload's text; claimed once
  -- with mpa_consume (state executed).
  kind           text NOT NULL DEFAULT 'statement' CHECK (kind IN ('statement', 'action')),
  payload        jsonb,
  CHECK ((kind = 'action') = (payload IS NOT NULL)),
  -- For drops: what the statement also removes (mpa.cascade_of), by OID,
  -- sorted, as approvers were shown it. Execution finds the same or is
  -- refused.
  cascade_classes oid[] NOT NULL DEFAULT '{}',
  cascade_oids    oid[] NOT NULL DEFAULT '{}',
  -- A request for another database's objects (docs/decisions.md, "Every
  -- database"): that database's name and OID when it was requested (a
  -- dropped and re-created database of the same name is another one);
  -- NULL for mpa.database's own and for cluster-wide operations.
  database        text,
  database_oid    oid,
  CONSTRAINT requests_database_named CHECK ((database IS NULL) = (database_oid IS NULL)),
  -- What the statement also removes, described there: OIDs of another
  -- database mean nothing to pg_describe_object here. NULL at home.
  cascade_descriptions text[],
  -- Execution in another database is claimed before it runs: state
  -- 'executing' names the transaction that runs it there; its commit makes
  -- the request executed, its abort (a crash too) approved again. The xid
  -- stays as the record of which transaction ran it.
  executing_xid   xid8,
  executing_since timestamptz,
  CONSTRAINT requests_executing_has_xid CHECK (state <> 'executing' OR executing_xid IS NOT NULL),
  -- When the approvers who had not voted were reminded (mpa.reminder_before
  -- before expiry): set in the transaction that queues the reminders, so a
  -- restart never reminds twice.
  reminded_at     timestamptz,
  -- Approved by the break-glass team's quorum (docs/decisions.md, "Policy
  -- modes", break-glass) rather than its own team's threshold: the regular
  -- team reviews it (mpa.reviews). Last, where the 0.1 upgrade step adds it.
  break_glass     boolean NOT NULL DEFAULT false,
  -- The policy's shared_votes when requested (with mpa.request_teams: the
  -- rule a request is decided by never changes under it).
  shared_votes    boolean NOT NULL DEFAULT false
);
CREATE INDEX IF NOT EXISTS requests_open ON mpa.requests (expires_at) WHERE state IN ('pending', 'approved');
CREATE INDEX IF NOT EXISTS requests_approved ON mpa.requests (fingerprint) WHERE state = 'approved';
-- Claims of approvals for another database, and the worker's look at the
-- executing ones each round (mpa.claim_execution, mpa.resolve_executions).
CREATE INDEX IF NOT EXISTS requests_spendable ON mpa.requests (fingerprint) WHERE state IN ('approved', 'executing');
CREATE INDEX IF NOT EXISTS requests_by_requester ON mpa.requests (requester, created_at);

-- A policy of several teams (docs/decisions.md, "Several teams"): one row
-- per team, mpa.policies.team among them (the first team, the one a refusal
-- names first). A policy of one team has no row here.
CREATE TABLE IF NOT EXISTS mpa.policy_teams (
  policy_id bigint NOT NULL REFERENCES mpa.policies ON DELETE CASCADE,
  team      text NOT NULL REFERENCES mpa.teams ON UPDATE CASCADE,
  PRIMARY KEY (policy_id, team)
);
-- A request's teams and their thresholds as they were when it was made
-- (mpa.requests.team among them): later changes to the policy or the teams'
-- thresholds do not change what approves it. No foreign keys, as for
-- mpa.requests.team. A request of one team has no row here.
CREATE TABLE IF NOT EXISTS mpa.request_teams (
  request_id bigint NOT NULL REFERENCES mpa.requests,
  team       text NOT NULL,
  threshold  integer NOT NULL CHECK (threshold >= 1),
  PRIMARY KEY (request_id, team)
);

CREATE TABLE IF NOT EXISTS mpa.votes (
  request_id bigint NOT NULL REFERENCES mpa.requests,
  approver   regrole NOT NULL,
  decision   text NOT NULL CHECK (decision IN ('approve', 'reject')),
  voted_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (request_id, approver)
);

-- Executed temporary grants, until the worker revoked them.
CREATE TABLE IF NOT EXISTS mpa.temporary_grants (
  request_id       bigint PRIMARY KEY REFERENCES mpa.requests,
  grant_statement  text NOT NULL,
  revoke_statement text NOT NULL,
  requester        regrole NOT NULL,     -- the REVOKE runs as this role, as the GRANT did
  granted_at       timestamptz NOT NULL DEFAULT now(),
  ends_at          timestamptz NOT NULL,
  warned_at        timestamptz,          -- the "ends soon" mail was queued
  revoked_at       timestamptz,
  revoke_outcome   text                  -- what the REVOKE said ('revoked', or why not)
);
CREATE INDEX IF NOT EXISTS temporary_grants_active ON mpa.temporary_grants (ends_at) WHERE revoked_at IS NULL;

-- Temporary grants in force and when each ends.
CREATE OR REPLACE VIEW mpa.active_grants AS
  SELECT g.request_id, g.grant_statement, g.requester, g.granted_at, g.ends_at,
         g.ends_at - now() AS remaining
    FROM mpa.temporary_grants g WHERE g.revoked_at IS NULL;

-- A challenge is one mailed code for one (request, approver, decision). The
-- code is derived from these columns and the server's code key; it is stored
-- nowhere. Wrong tries are counted in shared memory, outside transactions.
-- A confirmation of an approver's address is a challenge without request,
-- for one team, with decision 'confirm'; its code is bound to the address.
-- key_id names the code key the code was made with (mpa.code_key_id(), never
-- the key): a code made by a key this server no longer has (a restart, a
-- failover since) is refused as such, not as a wrong code. NULL: made
-- before pg_mpa recorded keys (0.1), by a key gone since.
CREATE TABLE IF NOT EXISTS mpa.challenges (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  request_id  bigint REFERENCES mpa.requests,
  approver    regrole NOT NULL,
  decision    text NOT NULL CHECK (decision IN ('approve', 'reject', 'confirm', 'notices')),
  nonce       bytea NOT NULL,
  email       text NOT NULL,
  state       text NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'used', 'superseded', 'expired')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL,
  team        text,
  key_id      bigint,
  -- 'confirm': an approver's address; 'notices': a requester's address for
  -- notices (mpa_notify_me); neither is about a request.
  CHECK ((decision IN ('confirm', 'notices')) = (request_id IS NULL)),
  CHECK (decision <> 'confirm' OR team IS NOT NULL)
);
-- Every code of a voter (the resend cooldown looks at the last one, open or not).
CREATE INDEX IF NOT EXISTS challenges_by_voter ON mpa.challenges (request_id, approver);
-- The open ones, by expiry: the worker's timers look at them every round.
CREATE INDEX IF NOT EXISTS challenges_open ON mpa.challenges (expires_at) WHERE state = 'open';
CREATE INDEX IF NOT EXISTS confirmations_by_approver ON mpa.challenges (team, approver) WHERE request_id IS NULL;
-- Spent codes by age: the retention's deletion (src/pg/worker/retention.cpp).
CREATE INDEX IF NOT EXISTS challenges_closed ON mpa.challenges (created_at) WHERE state <> 'open';

ALTER TABLE mpa.outbox ADD COLUMN IF NOT EXISTS challenge_id bigint REFERENCES mpa.challenges;
-- A code's mail: deleting a code checks that its mail is gone (the key, and
-- the retention's deletion).
CREATE INDEX IF NOT EXISTS outbox_by_challenge ON mpa.outbox (challenge_id) WHERE challenge_id IS NOT NULL;
-- The request a mail is about: the worker threads the mail under the
-- request's first one and links it to the request's page in the portal
-- (src/pg/mail/mail_delivery.cpp). No foreign key: finished requests' mail
-- is deleted by the retention independently.
ALTER TABLE mpa.outbox ADD COLUMN IF NOT EXISTS request_id bigint;

-- Where a requester is told about their own requests (mpa_notify_me;
-- docs/decisions.md, "Mail that says where and links there"): an address
-- takes effect once it confirmed a code mailed there (email), the one
-- waiting for its code is pending_email. Not carried by a backup, like the
-- outbox: after a restore a requester registers again.
CREATE TABLE IF NOT EXISTS mpa.notice_addresses (
  requester     regrole PRIMARY KEY,
  -- The role's name when it registered: a role dropped leaves its OID
  -- behind (a regrole makes no dependency), and a role created later may
  -- get it. Notices go only while OID and name still match.
  role_name     name NOT NULL,
  email         text,
  pending_email text,
  registered_at timestamptz NOT NULL DEFAULT now(),
  confirmed_at  timestamptz,
  CHECK (email IS NOT NULL OR pending_email IS NOT NULL)
);
REVOKE ALL ON mpa.notice_addresses FROM PUBLIC;

-- Everything pg_mpa did and refused, append-only and hash-chained
-- (src/core/audit_chain.hpp). An event's transaction writes its row with
-- seq NULL; events that happen in a transaction that rolls back (refused
-- statements, wrong codes) travel through shared memory and the worker
-- writes them. The mail worker chains rows in the order it finds them
-- committed: it sets seq (1, 2, ...), previous_hash and hash.
CREATE TABLE IF NOT EXISTS mpa.audit (
  id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  recorded_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
  kind          text NOT NULL,
  request_id    bigint,
  actor         text NOT NULL DEFAULT session_user,
  database      text NOT NULL DEFAULT current_database(),
  detail        jsonb NOT NULL DEFAULT '{}',
  seq           bigint UNIQUE,
  previous_hash text,
  hash          text
);
CREATE INDEX IF NOT EXISTS audit_unchained ON mpa.audit (id) WHERE seq IS NULL;

-- Break-glass (docs/decisions.md, "Policy modes"; sql/install/19_break_glass.sql).
-- The team declared for emergencies, its quorum and how long the regular
-- team has to review a use. At most one (the index on a constant): simpler
-- to reason about, and two concurrent declarations cannot both commit.
CREATE TABLE IF NOT EXISTS mpa.break_glass (
  team          text PRIMARY KEY REFERENCES mpa.teams ON UPDATE CASCADE,
  quorum        integer NOT NULL CHECK (quorum >= 1),
  review_window interval NOT NULL CHECK (review_window > interval '0'),
  created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS break_glass_one_team ON mpa.break_glass ((true));

-- Each use on a request (mpa_break_glass): the team, quorum and window as
-- they were when it was opened, why and by whom; review_due_at is set when
-- the break-glass quorum approved the request, overdue_told_at when the
-- worker mailed that its review is overdue (in the same transaction: a
-- restart never mails twice).
CREATE TABLE IF NOT EXISTS mpa.break_glass_uses (
  request_id      bigint PRIMARY KEY REFERENCES mpa.requests,
  team            text NOT NULL,
  quorum          integer NOT NULL,
  review_window   interval NOT NULL,
  reason          text NOT NULL,
  opened_by       regrole NOT NULL,
  opened_at       timestamptz NOT NULL DEFAULT now(),
  review_due_at   timestamptz,
  overdue_told_at timestamptz
);
CREATE INDEX IF NOT EXISTS break_glass_reviews_due ON mpa.break_glass_uses (review_due_at)
  WHERE review_due_at IS NOT NULL AND overdue_told_at IS NULL;

-- The regular team's review of a break-glass approval (mpa_review), once.
CREATE TABLE IF NOT EXISTS mpa.reviews (
  request_id  bigint PRIMARY KEY REFERENCES mpa.requests,
  verdict     text NOT NULL CHECK (verdict IN ('confirm', 'dispute')),
  note        text NOT NULL,
  reviewer    regrole NOT NULL,
  reviewed_at timestamptz NOT NULL DEFAULT now()
);

-- Applications read the approval tables; only pg_mpa's functions write them.
REVOKE ALL ON mpa.teams, mpa.approvers, mpa.policies, mpa.requests, mpa.votes, mpa.challenges,
  mpa.temporary_grants, mpa.audit, mpa.policy_teams, mpa.request_teams, mpa.break_glass, mpa.break_glass_uses,
  mpa.reviews FROM PUBLIC;
GRANT SELECT ON mpa.teams, mpa.policies, mpa.requests, mpa.votes, mpa.temporary_grants,
  mpa.active_grants, mpa.audit, mpa.policy_teams, mpa.request_teams, mpa.break_glass, mpa.break_glass_uses,
  mpa.reviews TO PUBLIC;
GRANT SELECT (team, approver, added_at, verified_at, last_active_at) ON mpa.approvers TO PUBLIC;
GRANT SELECT (id, request_id, team, approver, decision, state, created_at, expires_at) ON mpa.challenges TO PUBLIC;


