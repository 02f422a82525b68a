-- An undone incident import keeps each incident's whole row (but its point, kept beside it), so a redo gives back the
-- incidents as they were — their reporter, caller, external reference and every column added later — not only the
-- columns listed in 018.
ALTER TABLE incident_undone ADD COLUMN "row" jsonb;
