-- A household's head (户主) and a number to reach them: what a grid worker goes to the door with and a
-- household register (户籍登记表, 一标三实) brings. Personal data: read by the grid's worker, planners and
-- admins only (the capability households:people), never in tiles, the overview or the wall. `version`
-- makes an edit of one household refuse a stale form (409), as regions do.
ALTER TABLE household ADD COLUMN head_name text NOT NULL DEFAULT '' CHECK (length(head_name) <= 50);
ALTER TABLE household ADD COLUMN phone text NOT NULL DEFAULT '' CHECK (length(phone) <= 20);
ALTER TABLE household ADD COLUMN version integer NOT NULL DEFAULT 1;
-- When and by whom a head or phone was last corrected by hand (a grid worker at the door): a register imported
-- later does not overwrite it unless the clerk says the register is right.
ALTER TABLE household ADD COLUMN corrected_at timestamptz;
ALTER TABLE household ADD COLUMN corrected_by text;
ALTER TABLE household_undone ADD COLUMN head_name text NOT NULL DEFAULT '';
ALTER TABLE household_undone ADD COLUMN phone text NOT NULL DEFAULT '';
ALTER TABLE household_undone ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE household_undone ADD COLUMN corrected_at timestamptz;
ALTER TABLE household_undone ADD COLUMN corrected_by text;

-- Drafts made before this hold a copy of the household table without the new columns (a draft copies the
-- table's shape when it is made): given them, so that copying households into them keeps working.
DO $$
DECLARE
  s text;
BEGIN
  FOR s IN SELECT n.nspname FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = 'household'
           WHERE n.nspname LIKE 'gp\_draft\_%' LOOP
    EXECUTE format('ALTER TABLE %I.household ADD COLUMN IF NOT EXISTS head_name text NOT NULL DEFAULT '''', '
                   'ADD COLUMN IF NOT EXISTS phone text NOT NULL DEFAULT '''', ADD COLUMN IF NOT EXISTS version integer NOT NULL DEFAULT 1, '
                   'ADD COLUMN IF NOT EXISTS corrected_at timestamptz, ADD COLUMN IF NOT EXISTS corrected_by text', s);
  END LOOP;
END $$;
