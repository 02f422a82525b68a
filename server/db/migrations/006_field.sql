-- The field loop: photos a grid worker takes with a report, and each grid's staff.

-- Photos of an incident (at most three), kept in the database so one backup holds everything.
-- A photo sent twice (a phone retrying after a lost answer) is the same photo: one per digest.
CREATE TABLE incident_photo (
  id serial PRIMARY KEY,
  incident_id integer NOT NULL REFERENCES incident (id) ON DELETE CASCADE,
  mime text NOT NULL CHECK (mime IN ('image/jpeg', 'image/png', 'image/webp')),
  bytes bytea NOT NULL,
  size integer NOT NULL CHECK (size > 0),
  sha256 text NOT NULL,
  uploaded_by text NOT NULL,
  uploaded_at timestamptz NOT NULL DEFAULT now(),
  UNIQUE (incident_id, sha256)
);

-- Staffing roles of a grid and how many of each a grid needs. The default is the seed counties'
-- 1+3+M+X model: one grid leader; a full-time worker, a police officer (警网融合) and an
-- instructor; M part-time members; X volunteers. A county running 1+N+X sets police and
-- instructor to 0. The full-time worker is the grid's `worker_id`; the others are `grid_staff`.
CREATE TABLE staff_role (
  code text PRIMARY KEY CHECK (code ~ '^[a-z][a-z0-9_]{1,31}$'),
  zh text NOT NULL,
  en text NOT NULL,
  min_per_grid integer NOT NULL DEFAULT 0 CHECK (min_per_grid BETWEEN 0 AND 20),
  sort integer NOT NULL DEFAULT 0
);
INSERT INTO staff_role (code, zh, en, min_per_grid, sort) VALUES
  ('grid_leader', '网格长', 'Grid leader', 1, 1),
  ('full_time', '专职网格员', 'Full-time worker', 1, 2),
  ('police', '网格警员', 'Police officer', 1, 3),
  ('instructor', '网格指导员', 'Instructor', 1, 4),
  ('part_time', '兼职网格员', 'Part-time member', 0, 5),
  ('volunteer', '网格志愿者', 'Volunteer', 0, 6);

ALTER TABLE worker DROP CONSTRAINT worker_role_check;
ALTER TABLE worker ADD CONSTRAINT worker_role_fkey FOREIGN KEY (role) REFERENCES staff_role (code);

CREATE TABLE grid_staff (
  grid_id integer NOT NULL REFERENCES region (id) ON DELETE CASCADE,
  worker_id integer NOT NULL REFERENCES worker (id) ON DELETE CASCADE,
  role text NOT NULL REFERENCES staff_role (code) CHECK (role <> 'full_time'),
  PRIMARY KEY (grid_id, worker_id, role)
);
CREATE INDEX grid_staff_worker_idx ON grid_staff (worker_id);
