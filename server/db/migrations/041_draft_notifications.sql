-- A draft's review reaches people (the newcomer's pass: nobody was told): its reviewers when a step awaits them, its
-- author when a step is decided. Such a notification names the draft, not a case.
ALTER TABLE notification ADD COLUMN draft_id integer REFERENCES draft (id) ON DELETE CASCADE;
CREATE INDEX notification_draft_idx ON notification (draft_id) WHERE draft_id IS NOT NULL;
