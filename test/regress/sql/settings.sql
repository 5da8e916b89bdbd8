-- pg_mpa's settings: registered with default, unit and bounds; never
-- changeable by a session.
SELECT name, unit, context, vartype, min_val, max_val, boot_val
  FROM pg_settings WHERE name LIKE 'mpa.%' ORDER BY name;

SELECT count(*) AS password_rows FROM pg_settings WHERE name = 'mpa.smtp_password';

-- No session may change any of them, superuser or not.
SET mpa.otp_ttl = 5;
SET mpa.otp_max_attempts = 100;
SET LOCAL mpa.smtp_url = 'smtp://evil.example:25';
SELECT set_config('mpa.mail_from', 'evil@example.com', false);
SELECT set_config('mpa.database', 'other', true);
RESET mpa.otp_ttl;
-- The mpa. prefix is reserved: no placeholder can be invented under it.
SET mpa.no_such_setting = 'x';
SHOW mpa.otp_ttl;

-- An ordinary role cannot read the password either.
CREATE ROLE mpa_settings_reader;
SET ROLE mpa_settings_reader;
SHOW mpa.smtp_password;
SET mpa.otp_ttl = 5;
RESET ROLE;
DROP ROLE mpa_settings_reader;

-- mpa.smtp_url takes only smtp:// and smtps:// (its check runs whenever
-- the value is loaded or set): libcurl would follow any URL it is given.
-- ALTER SYSTEM runs the same check as a reload and writes nothing when it
-- fails. (The RESET undoes a value that got through.)
-- (ALTER SYSTEM cannot run in a function: psql shows each SQLSTATE.)
ALTER SYSTEM SET mpa.smtp_url = 'http://127.0.0.1:25';
\echo :LAST_ERROR_SQLSTATE
ALTER SYSTEM SET mpa.smtp_url = 'file:///etc/passwd';
\echo :LAST_ERROR_SQLSTATE
ALTER SYSTEM SET mpa.smtp_url = 'imap://127.0.0.1:143';
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) AS auto_conf_lines FROM pg_file_settings
 WHERE name = 'mpa.smtp_url' AND sourcefile LIKE '%postgresql.auto.conf';
ALTER SYSTEM RESET mpa.smtp_url;
