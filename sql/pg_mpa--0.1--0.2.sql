-- pg_mpa 0.1 to 0.2 (ALTER EXTENSION pg_mpa UPDATE; docs/operations.md).
\echo Use "ALTER EXTENSION pg_mpa UPDATE" to load this file. \quit
