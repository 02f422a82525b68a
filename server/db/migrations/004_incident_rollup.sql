-- Incident counts per month (China Standard Time), category, status, grid and ~100 m cell
-- (1/1024°): heatmaps over whole months read these instead of every incident. Kept current by a
-- trigger; bulk loads rebuild it in one statement (gp_rebuild_incident_rollup).
CREATE TABLE incident_rollup (
  month date NOT NULL,
  category text NOT NULL,
  status text NOT NULL,
  grid_id integer,
  cx integer NOT NULL,
  cy integer NOT NULL,
  n integer NOT NULL
);
CREATE UNIQUE INDEX incident_rollup_key ON incident_rollup (month, category, status, coalesce(grid_id, 0), cx, cy);

CREATE FUNCTION gp_incident_rollup_add(i incident, d integer) RETURNS void LANGUAGE sql AS $$
  INSERT INTO incident_rollup (month, category, status, grid_id, cx, cy, n)
  VALUES (date_trunc('month', i.reported_at AT TIME ZONE 'Asia/Shanghai')::date, i.category, i.status, i.grid_id,
          floor(ST_X(i.geom) * 1024)::int, floor(ST_Y(i.geom) * 1024)::int, d)
  ON CONFLICT (month, category, status, coalesce(grid_id, 0), cx, cy) DO UPDATE SET n = incident_rollup.n + EXCLUDED.n
$$;

CREATE FUNCTION gp_incident_rollup_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN PERFORM gp_incident_rollup_add(OLD, -1); END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN PERFORM gp_incident_rollup_add(NEW, 1); END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER incident_rollup_sync AFTER INSERT OR UPDATE OF reported_at, category, status, grid_id, geom OR DELETE ON incident
  FOR EACH ROW EXECUTE FUNCTION gp_incident_rollup_trigger();

CREATE FUNCTION gp_rebuild_incident_rollup() RETURNS void LANGUAGE sql AS $$
  DELETE FROM incident_rollup;
  INSERT INTO incident_rollup (month, category, status, grid_id, cx, cy, n)
  SELECT date_trunc('month', reported_at AT TIME ZONE 'Asia/Shanghai')::date, category, status, grid_id,
         floor(ST_X(geom) * 1024)::int, floor(ST_Y(geom) * 1024)::int, count(*)::int
  FROM incident GROUP BY 1, 2, 3, 4, 5, 6;
$$;
