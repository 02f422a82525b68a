-- Accounts and sessions. A planner's or grid worker's scope is a region: they may change only
-- what lies below it (planner) or inside it (worker). Passwords are argon2id hashes; session
-- and screen tokens are stored only as SHA-256 digests, so a copy of the database opens nothing.
CREATE TABLE app_user (
  id serial PRIMARY KEY,
  username text NOT NULL UNIQUE CHECK (username ~ '^[A-Za-z0-9_.-]{2,64}$'),
  display_name text NOT NULL DEFAULT '',
  password_hash text NOT NULL,
  role text NOT NULL CHECK (role IN ('admin', 'planner', 'analyst', 'leader', 'worker')),
  region_id integer REFERENCES region (id) ON DELETE SET NULL,
  worker_id integer REFERENCES worker (id) ON DELETE SET NULL,
  disabled boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (role <> 'worker' OR worker_id IS NOT NULL)
);

-- Read-only tokens for wall displays: exchanged for a session of role `screen`.
CREATE TABLE screen_token (
  id serial PRIMARY KEY,
  token_hash text NOT NULL UNIQUE,
  label text NOT NULL DEFAULT '',
  region_id integer REFERENCES region (id) ON DELETE SET NULL,
  created_at timestamptz NOT NULL DEFAULT now(),
  revoked_at timestamptz
);

CREATE TABLE session (
  token_hash text PRIMARY KEY,
  user_id integer REFERENCES app_user (id) ON DELETE CASCADE,
  screen_token_id integer REFERENCES screen_token (id) ON DELETE CASCADE,
  created_at timestamptz NOT NULL DEFAULT now(),
  expires_at timestamptz NOT NULL,
  CHECK ((user_id IS NULL) <> (screen_token_id IS NULL))
);
CREATE INDEX session_user_idx ON session (user_id);
CREATE INDEX session_expires_idx ON session (expires_at);
CREATE INDEX region_worker_idx ON region (worker_id);
