-- Installation: the check that pg_mpa is preloaded in its home database, and
-- the schema mpa.

-- Refuses the installation unless the library was preloaded by the
-- postmaster (loading it here fails with a hint otherwise) and this is the
-- database named by mpa.database, where the mail worker runs.
CREATE OR REPLACE FUNCTION mpa_check_installation() RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_check_installation';
SELECT mpa_check_installation();
REVOKE ALL ON FUNCTION mpa_check_installation() FROM PUBLIC;

-- Tables and views live in schema mpa; functions in the extension's schema.
CREATE SCHEMA IF NOT EXISTS mpa;
REVOKE ALL ON SCHEMA mpa FROM PUBLIC;
GRANT USAGE ON SCHEMA mpa TO PUBLIC;

