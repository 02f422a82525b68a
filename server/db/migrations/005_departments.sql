-- The department loop (网格吹哨、部门报到): an incident is dispatched to one or more departments
-- (双派单 for hotline orders: the grid and the department at once); each department acknowledges,
-- resolves and answers within deadlines set per category and severity; overdue dispatches escalate
-- to the township, then the district.
CREATE TABLE department (
  id serial PRIMARY KEY,
  code text NOT NULL UNIQUE CHECK (code ~ '^[a-z][a-z0-9_]{1,31}$'),
  zh text NOT NULL,
  en text NOT NULL,
  sort integer NOT NULL DEFAULT 0
);
INSERT INTO department (code, zh, en, sort) VALUES
  ('police', '公安', 'Public security', 1),
  ('fire', '消防救援', 'Fire and rescue', 2),
  ('housing', '住建', 'Housing and construction', 3),
  ('environment', '生态环境', 'Ecology and environment', 4),
  ('market', '市场监管', 'Market regulation', 5),
  ('transport', '交通运输', 'Transport', 6),
  ('mediation', '司法调解', 'Justice and mediation', 7);

-- Where each category goes by default (a hotline order is dispatched there at once).
CREATE TABLE category_department (
  category text NOT NULL REFERENCES incident_category (code) ON DELETE CASCADE,
  department_id integer NOT NULL REFERENCES department (id) ON DELETE CASCADE,
  PRIMARY KEY (category, department_id)
);
INSERT INTO category_department (category, department_id)
  SELECT c, d.id FROM (VALUES ('fire', 'fire'), ('public_order', 'police'), ('traffic', 'police'), ('traffic', 'transport'),
    ('sanitation', 'environment'), ('hazard', 'housing'), ('dispute', 'mediation')) AS v (c, dep)
  JOIN department d ON d.code = v.dep;

-- Hours to acknowledge and to resolve, per category and severity (4 is the most severe).
CREATE TABLE incident_deadline (
  category text NOT NULL REFERENCES incident_category (code) ON DELETE CASCADE,
  severity smallint NOT NULL CHECK (severity BETWEEN 1 AND 4),
  ack_hours numeric NOT NULL CHECK (ack_hours > 0),
  resolve_hours numeric NOT NULL CHECK (resolve_hours > 0),
  PRIMARY KEY (category, severity)
);
INSERT INTO incident_deadline (category, severity, ack_hours, resolve_hours)
  SELECT c.code, s, CASE s WHEN 4 THEN 1 WHEN 3 THEN 4 WHEN 2 THEN 12 ELSE 24 END,
         c.deadline_hours * CASE s WHEN 4 THEN 0.25 WHEN 3 THEN 0.5 ELSE 1 END
  FROM incident_category c CROSS JOIN generate_series(1, 4) AS s;

CREATE TABLE dispatch (
  id serial PRIMARY KEY,
  incident_id integer NOT NULL REFERENCES incident (id) ON DELETE CASCADE,
  department_id integer NOT NULL REFERENCES department (id),
  dispatched_at timestamptz NOT NULL,
  ack_due_at timestamptz NOT NULL,
  due_at timestamptz NOT NULL,
  acknowledged_at timestamptz,
  resolved_at timestamptz,
  answer text,
  -- 0: none; 1: the incident's township was alerted; 2: the district was.
  escalation smallint NOT NULL DEFAULT 0 CHECK (escalation BETWEEN 0 AND 2),
  escalated_at timestamptz,
  version integer NOT NULL DEFAULT 1,
  UNIQUE (incident_id, department_id),
  CHECK (acknowledged_at IS NULL OR acknowledged_at >= dispatched_at),
  CHECK (resolved_at IS NULL OR (acknowledged_at IS NOT NULL AND resolved_at >= acknowledged_at AND answer IS NOT NULL))
);
CREATE INDEX dispatch_department_idx ON dispatch (department_id, resolved_at);
CREATE INDEX dispatch_open_due_idx ON dispatch (due_at) WHERE resolved_at IS NULL;

-- Where an incident came from, and what makes a retry the same report: a hotline order number,
-- or the idempotency key a worker's phone sends with a report it may have to send again.
ALTER TABLE incident ADD COLUMN source text NOT NULL DEFAULT 'worker' CHECK (source IN ('worker', 'hotline', 'import'));
ALTER TABLE incident ADD COLUMN external_ref text;
ALTER TABLE incident ADD COLUMN reported_by text;
ALTER TABLE incident ADD COLUMN client_key text;
ALTER TABLE incident ADD COLUMN address text;
ALTER TABLE incident ADD COLUMN caller text;
-- How the location was found: a point given, or an address matched to a region of this level.
ALTER TABLE incident ADD COLUMN located_by text CHECK (located_by IN ('point', 'grid', 'village', 'township', 'household'));
CREATE UNIQUE INDEX incident_external_ref_idx ON incident (source, external_ref) WHERE external_ref IS NOT NULL;
CREATE UNIQUE INDEX incident_client_key_idx ON incident (reported_by, client_key) WHERE client_key IS NOT NULL;
CREATE INDEX incident_open_idx ON incident (grid_id) WHERE status <> 'closed';

-- Department users: act on their department's dispatches only.
ALTER TABLE app_user ADD COLUMN department_id integer REFERENCES department (id) ON DELETE SET NULL;
ALTER TABLE app_user DROP CONSTRAINT app_user_role_check;
ALTER TABLE app_user ADD CONSTRAINT app_user_role_check CHECK (role IN ('admin', 'planner', 'analyst', 'leader', 'worker', 'department'));
ALTER TABLE app_user ADD CONSTRAINT app_user_department_check CHECK (role <> 'department' OR department_id IS NOT NULL);

-- Keys of systems that feed incidents in (the 12345 hotline), stored as SHA-256 digests.
CREATE TABLE api_key (
  id serial PRIMARY KEY,
  key_hash text NOT NULL UNIQUE,
  label text NOT NULL DEFAULT '',
  scope text NOT NULL CHECK (scope IN ('hotline')),
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);
