-- 不满意复核: the centre looks at a case closed with an unsatisfied resident and either reopens it (重新办理) or
-- keeps the closure, with a note; a case kept so leaves the review list. A reopen clears it (closed unsatisfied
-- again, it is reviewed again).
ALTER TABLE incident ADD COLUMN reviewed_at timestamptz;
ALTER TABLE incident ADD COLUMN review_note text;
