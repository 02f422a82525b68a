-- An admin is not limited to a region (the role ignores it; accounts now refuse one): an area kept beside an admin
-- looked like a limit in 设置 › 账号 and was none.
UPDATE app_user SET region_id = NULL WHERE role = 'admin' AND region_id IS NOT NULL;
