-- Test-only (test/tap/030): a protected statement inside an extension script.
CREATE TABLE public.dropper_was_here (id int);
DROP TABLE prod.accounts;
