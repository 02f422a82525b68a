-- Each incident's cell of 1/2048° (about 50 m), kept with it: the heatmap counts these cells rather than
-- computing a hexagon for every incident when its hexagons are wide (see heatmap()).
ALTER TABLE incident ADD COLUMN cell_x integer GENERATED ALWAYS AS (floor(ST_X(geom) * 2048)::integer) STORED;
ALTER TABLE incident ADD COLUMN cell_y integer GENERATED ALWAYS AS (floor(ST_Y(geom) * 2048)::integer) STORED;
