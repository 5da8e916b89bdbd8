-- The doors of governed configuration (C), and who may call the internal
-- functions defined so far.

-- Governed configuration (src/pg/protection/configuration.hpp): a change is let
-- through while no team protects MPA CONFIGURE for it, or while its approved
-- request runs through mpa_execute.
CREATE OR REPLACE FUNCTION mpa.authorize_configuration(function_name text, call text) RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_authorize_configuration';
CREATE OR REPLACE FUNCTION mpa.execute_configuration(request_id bigint) RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_execute_configuration';
CREATE OR REPLACE FUNCTION mpa.rehearse_configuration(statement text) RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_rehearse_configuration';
CREATE OR REPLACE FUNCTION mpa.governance_begins() RETURNS void
  LANGUAGE c AS 'MODULE_PATHNAME', 'mpa_governance_begins';

REVOKE ALL ON ALL FUNCTIONS IN SCHEMA mpa FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mpa.require(anyelement, text), mpa.execute_configuration(bigint) TO PUBLIC;

