#!/bin/sh
# Checks that the files of sql/install can run again on an installation that
# has their objects: every upgrade script runs them all after its own steps
# (sql/upgrade/README.md). Prints each statement that would fail on an
# object that exists, and fails.
#   sql/upgrade/rerunnable.sh sql/install/*.sql
# Only the start of a line is read: statements inside function bodies and
# strings are not pg_mpa's objects.
status=0
for file in "$@"; do
  # A CREATE that is neither OR REPLACE (functions, views, triggers) nor
  # IF NOT EXISTS (schema, tables, indexes, sequences); an ADD COLUMN
  # without IF NOT EXISTS; ADD CONSTRAINT, which has no IF NOT EXISTS.
  found=$(grep -inE '^[[:space:]]*CREATE[[:space:]]|ADD[[:space:]]+COLUMN[[:space:]]|ADD[[:space:]]+CONSTRAINT[[:space:]]' "$file" |
    grep -viE 'CREATE[[:space:]]+OR[[:space:]]+REPLACE[[:space:]]+(FUNCTION|PROCEDURE|VIEW|TRIGGER)[[:space:]]|CREATE[[:space:]]+(SCHEMA|TABLE|SEQUENCE|(UNIQUE[[:space:]]+)?INDEX)[[:space:]]+IF[[:space:]]+NOT[[:space:]]+EXISTS[[:space:]]|ADD[[:space:]]+COLUMN[[:space:]]+IF[[:space:]]+NOT[[:space:]]+EXISTS[[:space:]]')
  if [ -n "$found" ]; then
    printf '%s\n' "$found" | sed "s|^|$file:|" >&2
    status=1
  fi
done
if [ $status -ne 0 ]; then
  cat >&2 <<'MSG'
These statements would fail when an upgrade runs sql/install again on an
installation that has the object. Write CREATE OR REPLACE FUNCTION / VIEW /
TRIGGER, and CREATE SCHEMA / TABLE / INDEX / SEQUENCE ... IF NOT EXISTS and
ADD COLUMN IF NOT EXISTS; a constraint goes into its CREATE TABLE. A table
change also needs its upgrade step in sql/upgrade/ (sql/upgrade/README.md).
MSG
fi
exit $status
