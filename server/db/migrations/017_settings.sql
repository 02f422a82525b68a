-- Settings a county keeps itself: a department's contact person and phone (the people a centre
-- calls), and versions so that two administrators editing one department or category do not
-- overwrite each other unseen (409 on a stale version).
ALTER TABLE department ADD COLUMN contact text NOT NULL DEFAULT '';
ALTER TABLE department ADD COLUMN phone text NOT NULL DEFAULT '';
ALTER TABLE department ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE incident_category ADD COLUMN version integer NOT NULL DEFAULT 1;
