-- Incident categories are configurable; each has a deadline to close (hours) after which an open
-- incident counts as overdue.
CREATE TABLE incident_category (
  code text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,31}$'),
  zh text NOT NULL,
  en text NOT NULL,
  deadline_hours integer NOT NULL CHECK (deadline_hours > 0),
  sort integer NOT NULL DEFAULT 0
);
INSERT INTO incident_category (code, zh, en, deadline_hours, sort) VALUES
  ('hazard', '安全隐患', 'Safety hazard', 72, 1),
  ('dispute', '矛盾纠纷', 'Dispute', 168, 2),
  ('fire', '消防', 'Fire safety', 24, 3),
  ('public_order', '治安', 'Public order', 48, 4),
  ('sanitation', '环境卫生', 'Sanitation', 120, 5),
  ('traffic', '道路交通', 'Road traffic', 72, 6),
  ('other', '其他', 'Other', 168, 7);

ALTER TABLE incident ADD CONSTRAINT incident_category_fk FOREIGN KEY (category) REFERENCES incident_category (code);
ALTER TABLE incident ADD COLUMN version integer NOT NULL DEFAULT 1;
ALTER TABLE incident ADD CONSTRAINT incident_steps_in_order CHECK (
  (dispatched_at IS NULL OR dispatched_at >= reported_at)
  AND (resolved_at IS NULL OR (dispatched_at IS NOT NULL AND resolved_at >= dispatched_at))
  AND (closed_at IS NULL OR (resolved_at IS NOT NULL AND closed_at >= resolved_at)));
-- Filters of the analyst's views: by time with category and status, by grid.
CREATE INDEX incident_time_category_idx ON incident (reported_at, category, status);
