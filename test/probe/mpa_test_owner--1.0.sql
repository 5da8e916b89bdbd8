-- Test-only (test/tap/030): a table owned by this extension.
CREATE TABLE prod.ledger (id int);
INSERT INTO prod.ledger VALUES (1), (2);
