-------------------------------------------------------------------------------
-- pg_mpa's triggers (its own and the foreign keys' between its tables) fire
-- whatever session_replication_role says, however it was set (SET,
-- set_config, connection options, ALTER ROLE/DATABASE ... SET): "replica"
-- silences ordinary triggers, not these.
-------------------------------------------------------------------------------
DO $$
DECLARE t record;
BEGIN
  FOR t IN SELECT tg.tgrelid::regclass AS relation, tg.tgname FROM pg_catalog.pg_trigger tg
             JOIN pg_catalog.pg_class c ON c.oid = tg.tgrelid
            WHERE c.relnamespace = 'mpa'::regnamespace LOOP
    EXECUTE format('ALTER TABLE %s ENABLE ALWAYS TRIGGER %I', t.relation, t.tgname);
  END LOOP;
END $$;
