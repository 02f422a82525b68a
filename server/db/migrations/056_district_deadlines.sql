-- A district's own deadlines for its departments (issue: settings per district): the hours to acknowledge and to resolve
-- a dispatch, per category and severity, where they differ from the plan's (`incident_deadline`). A category a district
-- has not set keeps the plan's four; one it has set has all four severities of its own.
CREATE TABLE district_deadline (
  district_id integer NOT NULL REFERENCES region (id) ON DELETE CASCADE,
  category text NOT NULL REFERENCES incident_category (code) ON DELETE CASCADE,
  severity smallint NOT NULL CHECK (severity BETWEEN 1 AND 4),
  ack_hours numeric NOT NULL CHECK (ack_hours > 0),
  resolve_hours numeric NOT NULL CHECK (resolve_hours > 0),
  PRIMARY KEY (district_id, category, severity)
);
CREATE INDEX district_deadline_category_idx ON district_deadline (category);

-- The district a region lies in (itself when it is one); NULL above or outside one.
CREATE FUNCTION gp_district_of(place integer) RETURNS integer
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT a.id FROM gp_ancestors(ARRAY[place]) a JOIN region r ON r.id = a.id WHERE r.level = 'district' LIMIT 1
$$;
