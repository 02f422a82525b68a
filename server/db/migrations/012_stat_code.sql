-- The 12-digit 统计用区划代码 (a township's 530303101000) kept beside our own code, so that what was
-- imported with it can be exported with it.
ALTER TABLE region ADD COLUMN stat_code text CHECK (stat_code IS NULL OR stat_code ~ '^[0-9]{12}$');
