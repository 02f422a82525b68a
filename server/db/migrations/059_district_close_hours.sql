-- A district's own time to close a case per category (issue: settings per district): the hours from the report within
-- which its cases of the category count as closed on time (考核 on time, the wall's and the figures' overdue), where a
-- district sets them apart from the plan's (`incident_category.deadline_hours`). Kept with its own dispatch deadlines:
-- a category a district sets has its four severities in `district_deadline` and its close hours here.
CREATE TABLE district_close_hours (
  district_id integer NOT NULL REFERENCES region (id) ON DELETE CASCADE,
  category text NOT NULL REFERENCES incident_category (code) ON DELETE CASCADE,
  hours integer NOT NULL CHECK (hours BETWEEN 1 AND 8760),
  PRIMARY KEY (district_id, category)
);
CREATE INDEX district_close_hours_category_idx ON district_close_hours (category);
