-- A household a grid worker finds at the door that no list had (新增住户), or finds gone (迁出, 房屋拆除,
-- 重复登记): added or removed one at a time, each one operation in the change log that undo takes back.
-- A removed household waits in household_undone under its removal's operation, with the import that
-- brought it and where it was filed, so that an undo gives it back as it was.
ALTER TABLE household_undone ADD COLUMN import_op integer;
ALTER TABLE household_undone ADD COLUMN region_id integer;
-- (a month's visit share counts a grid's households taken out since the month began: found by grid)
CREATE INDEX household_undone_region_idx ON household_undone (region_id) WHERE region_id IS NOT NULL;
-- (the households taken out of a grid are found where they would come back: by place)
CREATE INDEX household_undone_geom_idx ON household_undone USING gist (geom);
-- (the change log finds a household taken out by its id, and those of an import by the import)
CREATE INDEX household_undone_id_idx ON household_undone (id);
CREATE INDEX household_undone_import_op_idx ON household_undone (import_op) WHERE import_op IS NOT NULL;
-- Visits keep their household across a removal and its undo (the household waits under the same id):
-- no foreign key to set them to NULL; a visit to a household removed is not counted, as before.
DO $$
DECLARE
  k text;
BEGIN
  FOR k IN SELECT c.conname FROM pg_constraint c
           WHERE c.conrelid = 'patrol_visit'::regclass AND c.contype = 'f' AND c.confrelid = 'household'::regclass LOOP
    EXECUTE format('ALTER TABLE patrol_visit DROP CONSTRAINT %I', k);
  END LOOP;
END $$;
