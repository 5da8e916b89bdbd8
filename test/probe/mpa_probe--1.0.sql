-- The guard probe's functions (test-only; see mpa_probe.cpp): CREATE EXTENSION mpa_probe.
CREATE FUNCTION mpa_probe_throw(sqlstate text) RETURNS void
  LANGUAGE c STRICT AS 'mpa_probe', 'mpa_probe_throw';
CREATE FUNCTION mpa_probe_throw_std() RETURNS void
  LANGUAGE c AS 'mpa_probe', 'mpa_probe_throw_std';
CREATE FUNCTION mpa_probe_postgres_error(input text, catch_it boolean) RETURNS text
  LANGUAGE c STRICT AS 'mpa_probe', 'mpa_probe_postgres_error';
CREATE FUNCTION mpa_probe_spi_error(query text) RETURNS text
  LANGUAGE c STRICT AS 'mpa_probe', 'mpa_probe_spi_error';
CREATE FUNCTION mpa_probe_destructor_runs() RETURNS bigint
  LANGUAGE c AS 'mpa_probe', 'mpa_probe_destructor_runs';
CREATE FUNCTION mpa_probe_code_key_digest() RETURNS text
  LANGUAGE c AS 'mpa_probe', 'mpa_probe_code_key_digest';
