-- A district's own 考核 points (issue: settings per district): the points its grid workers get for each measure, where
-- they differ from the plan's (`assessment_rule`). A county that counts a case solved on the spot as 3 and a patrolled
-- kilometre as nothing scores its own workers so; a measure without a row here gives the plan's points.
CREATE TABLE district_assessment_rule (
  district_id integer NOT NULL REFERENCES region (id) ON DELETE CASCADE,
  measure text NOT NULL REFERENCES assessment_rule (measure) ON DELETE CASCADE,
  points numeric NOT NULL CHECK (points BETWEEN -100 AND 100),
  PRIMARY KEY (district_id, measure)
);
CREATE INDEX district_assessment_rule_measure_idx ON district_assessment_rule (measure);
