-- Notifications that reach people (command centre issue §4): an inbox per account, written in the
-- same transaction as the step that causes it, and outgoing webhooks a county connects to its SMS,
-- WeCom or DingTalk gateway — one delivery per event and hook, kept as an outbox, retried with
-- back-off, dead after its last attempt until an admin sends it again.
CREATE TABLE notification (
  id bigserial PRIMARY KEY,
  user_id integer NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
  event text NOT NULL,
  incident_id integer REFERENCES incident (id) ON DELETE CASCADE,
  dispatch_id integer REFERENCES dispatch (id) ON DELETE CASCADE,
  text_zh text NOT NULL,
  text_en text NOT NULL,
  created_at timestamptz NOT NULL,
  read_at timestamptz
);
CREATE INDEX notification_user_idx ON notification (user_id, created_at DESC, id DESC);
CREATE INDEX notification_unread_idx ON notification (user_id) WHERE read_at IS NULL;
CREATE INDEX notification_incident_idx ON notification (incident_id);
CREATE INDEX notification_dispatch_idx ON notification (dispatch_id);

CREATE TABLE webhook (
  id serial PRIMARY KEY,
  url text NOT NULL CHECK (url ~ '^https?://'),
  events text[] NOT NULL CHECK (cardinality(events) > 0),
  secret text NOT NULL CHECK (length(secret) >= 16),
  label text NOT NULL DEFAULT '',
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE webhook_delivery (
  id bigserial PRIMARY KEY,
  webhook_id integer NOT NULL REFERENCES webhook (id) ON DELETE CASCADE,
  event text NOT NULL,
  payload jsonb NOT NULL,
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
  attempts integer NOT NULL DEFAULT 0,
  next_at timestamptz NOT NULL,
  last_status integer,
  last_error text,
  created_at timestamptz NOT NULL,
  delivered_at timestamptz
);
CREATE INDEX webhook_delivery_due_idx ON webhook_delivery (next_at) WHERE status = 'pending';
CREATE INDEX webhook_delivery_hook_idx ON webhook_delivery (webhook_id, id DESC);

-- Who hears of an escalation in a township or the district: named accounts; without any, the
-- leaders whose area is exactly that region.
CREATE TABLE escalation_contact (
  region_id integer NOT NULL REFERENCES region (id) ON DELETE CASCADE,
  user_id integer NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
  PRIMARY KEY (region_id, user_id)
);

-- A deadline near is told once per deadline: the last one told (a moved deadline is told again).
ALTER TABLE dispatch ADD COLUMN near_notified_for timestamptz;
