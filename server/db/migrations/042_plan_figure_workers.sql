-- 在岗网格员 counts people, not staffed grids (the newcomer's pass: one worker serving two grids was counted twice). Days
-- recorded before have no such count: their comparison shows no arrow.
ALTER TABLE plan_figure ADD COLUMN workers integer;
