-- The grid an incident was filed in at its time, kept when the plan changes (grid_id follows the
-- plan: it is the grid the place lies in now). Set once, as the incident comes in; incidents from
-- before this are taken to have been filed where they lie now.
ALTER TABLE incident ADD COLUMN filed_grid_id integer;
UPDATE incident SET filed_grid_id = grid_id;
CREATE INDEX incident_filed_grid_idx ON incident (filed_grid_id);

CREATE FUNCTION gp_incident_filed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  NEW.filed_grid_id := coalesce(NEW.filed_grid_id, NEW.grid_id);
  RETURN NEW;
END
$$;
CREATE TRIGGER incident_filed_trigger BEFORE INSERT ON incident FOR EACH ROW EXECUTE FUNCTION gp_incident_filed();
