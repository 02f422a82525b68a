-- A department called in again (after it sent a case back, after 改派 back to it, or on a case reopened after it
-- answered) starts afresh on its one dispatch row; the round it had is kept here, so its figures keep what happened
-- (an escalation, a late acknowledgement) — from the attacker's pass: sending a case back and being called in again
-- wiped an overdue department's escalation from 考核.
CREATE TABLE dispatch_round (
  id serial PRIMARY KEY,
  dispatch_id integer NOT NULL REFERENCES dispatch (id) ON DELETE CASCADE,
  incident_id integer NOT NULL,
  department_id integer NOT NULL,
  role text NOT NULL,
  dispatched_at timestamptz NOT NULL,
  ack_due_at timestamptz NOT NULL,
  due_at timestamptz NOT NULL,
  acknowledged_at timestamptz,
  resolved_at timestamptz,
  answer text,
  returned_at timestamptz,
  return_reason text,
  recalled boolean NOT NULL,
  reassigned_to integer,
  escalation smallint NOT NULL,
  escalated_at timestamptz,
  urge_count integer NOT NULL,
  satisfaction text,
  -- when it was closed by the department being called in again
  ended_at timestamptz NOT NULL
);
CREATE INDEX dispatch_round_dispatch_idx ON dispatch_round (dispatch_id);
CREATE INDEX dispatch_round_department_idx ON dispatch_round (department_id, dispatched_at);

-- The resident's verdict on what each department answered, kept on its dispatch when the case closes: a reopened case
-- clears the case's verdict, and a department's figures would lose an unsatisfied one (or take the next round's).
ALTER TABLE dispatch ADD COLUMN satisfaction text CHECK (satisfaction IN ('satisfied', 'basically', 'unsatisfied'));
UPDATE dispatch d SET satisfaction = i.satisfaction FROM incident i
WHERE i.id = d.incident_id AND i.status = 'closed' AND i.satisfaction IS NOT NULL AND d.resolved_at IS NOT NULL AND d.returned_at IS NULL;
