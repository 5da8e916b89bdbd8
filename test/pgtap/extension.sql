-- The installed surface: schema, functions, and who may touch what.
BEGIN;
SELECT plan(15);

SELECT has_schema('mpa');
SELECT has_table('mpa', 'outbox', 'the mail queue exists');
SELECT has_function('public', 'mpa_mail_test', ARRAY['text'], 'functions live in the extension schema');
SELECT is((SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_mpa'),
          'public', 'the extension schema is public by default');
-- What preloading pg_mpa starts (not merely the name in
-- shared_preload_libraries): its mail worker runs, and its settings are
-- pg_mpa's own (typed, bounded, reload-only), not placeholders that any
-- session could set.
SELECT is((SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'pg_mpa mail worker'),
          1, 'the mail worker runs');
SELECT is((SELECT format('%s %s..%s %s', vartype, min_val, max_val, context)
             FROM pg_settings WHERE name = 'mpa.otp_max_attempts'),
          'integer 1..10 sighup', 'mpa.otp_max_attempts is a setting of pg_mpa''s: an integer 1-10, reload only');

-- Every setting is fixed for sessions: postmaster or sighup context only.
SELECT is((SELECT count(*)::int FROM pg_settings
            WHERE name LIKE 'mpa.%' AND context NOT IN ('postmaster', 'sighup')),
          0, 'no mpa setting can be changed by a session');
SELECT throws_ok($$SET mpa.request_ttl = '1s'$$, '55P02', NULL, 'SET of a setting is refused');

-- Outbox columns readable by everyone are status columns only.
SELECT is(has_column_privilege('public', 'mpa.outbox', 'status', 'SELECT'), true, 'status is readable');
SELECT is(has_column_privilege('public', 'mpa.outbox', 'recipient', 'SELECT'), false, 'recipient is not');
SELECT is(has_column_privilege('public', 'mpa.outbox', 'body', 'SELECT'), false, 'body is not');
SELECT is(has_table_privilege('public', 'mpa.outbox', 'INSERT'), false, 'no role may insert into the outbox');
SELECT is(has_table_privilege('public', 'mpa.outbox', 'UPDATE'), false, 'no role may update the outbox');
SELECT is(has_function_privilege('public', 'mpa_mail_test(text)', 'EXECUTE'), false,
          'test mail is for superusers');

-- No column could hold a code.
SELECT is((SELECT count(*)::int FROM information_schema.columns
            WHERE table_schema = 'mpa' AND column_name ~ '(code|otp|secret|key)$'
              AND column_name <> 'supersede_key'),
          0, 'no mpa table has a column for codes or keys');

SELECT * FROM finish();
ROLLBACK;
