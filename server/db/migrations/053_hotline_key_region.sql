-- A hotline key may be a county's own (a city runs one 12345 system per county, or one for the city): the orders it
-- sends are placed only within its region — its coordinates, the households and the place names of that region —
-- so that a 东河村 of another county is never taken for its own. No foreign key: a key whose region is removed
-- places nothing (it fails closed) rather than widening to the whole plan.
ALTER TABLE api_key ADD COLUMN region_id integer;
