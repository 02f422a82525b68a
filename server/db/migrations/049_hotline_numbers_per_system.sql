-- A hotline order's number is its intake system's own: two systems (12345 and 110) may use one number
-- for two orders, and neither learns from a refusal that the other used it.
DROP INDEX incident_external_ref_idx;
CREATE UNIQUE INDEX incident_external_ref_idx ON incident (source, reported_by, external_ref) WHERE external_ref IS NOT NULL;
