-- 报到 with evidence: a department's photos of what it did (处置后照片), kept with the incident's own
-- photos and marked with the dispatch they answer. An incident's report keeps its three photos; each
-- dispatch may add three of its own.
ALTER TABLE incident_photo ADD COLUMN dispatch_id integer REFERENCES dispatch (id) ON DELETE CASCADE;
CREATE INDEX incident_photo_dispatch_idx ON incident_photo (dispatch_id) WHERE dispatch_id IS NOT NULL;
