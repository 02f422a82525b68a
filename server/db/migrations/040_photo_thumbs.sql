-- A small JPEG of each photo (at most 320 px on its long side) for the cards that list photos: a
-- queue page of 30 cases no longer loads 30 photos of 1,600 px. Null for a PNG or WebP (shown as it
-- is) and for photos stored before this column, which get theirs when first asked for.
ALTER TABLE incident_photo ADD COLUMN thumb bytea;
