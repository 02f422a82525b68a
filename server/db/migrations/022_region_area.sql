-- Each region's area, kept with it: the map of a district reads 4,000 grids at once, and computing
-- gp_area_m2 (additive, segment by segment) for each on every read was most of that read's time.
-- A trigger keeps it with the shape (in drafts too: a draft's region table gets the same trigger).
-- An insert that brings its area along (a copy of a region row) keeps it.
ALTER TABLE region ADD COLUMN area_m2 float8;
UPDATE region SET area_m2 = gp_area_m2(geom);

CREATE FUNCTION gp_region_area() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' AND NEW.area_m2 IS NOT NULL THEN
    RETURN NEW;
  END IF;
  NEW.area_m2 := gp_area_m2(NEW.geom);
  RETURN NEW;
END
$$;
CREATE TRIGGER region_area_trigger BEFORE INSERT OR UPDATE OF geom ON region FOR EACH ROW EXECUTE FUNCTION gp_region_area();
