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
