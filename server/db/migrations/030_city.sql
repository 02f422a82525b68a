-- A city (市) above its counties (city-scale issue §1): 曲靖 divides 21,544 grids city-wide. A city
-- is on top; a district (区/县) is on top, or under a city; every other level has a parent. A
-- district keeps its own six-digit code under a city (530303 under 530300), so every rule that
-- reads a district from a grid's code stays as it is.
ALTER TABLE region DROP CONSTRAINT region_level_check;
ALTER TABLE region ADD CONSTRAINT region_level_check CHECK (level IN ('city', 'district', 'township', 'village', 'grid'));
ALTER TABLE region DROP CONSTRAINT region_check;
ALTER TABLE region ADD CONSTRAINT region_parent_check
  CHECK ((level = 'city' AND parent_id IS NULL) OR level = 'district' OR (level NOT IN ('city', 'district') AND parent_id IS NOT NULL));
