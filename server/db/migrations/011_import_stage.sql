-- Households of an import on their way in: staged a chunk at a time in short transactions (each
-- located in its finest region there and then), so a large file does not hold the database
-- against everyone else; the import's last, short transaction moves them into `household`.
-- Unlogged: a crash leaves nothing to keep (the server empties it at start).
CREATE UNLOGGED TABLE import_household (
  import_id text NOT NULL,
  ord integer NOT NULL,
  geom geometry(Point, 4326) NOT NULL,
  size smallint NOT NULL,
  address text NOT NULL DEFAULT '',
  inside boolean NOT NULL,
  region_id integer,
  PRIMARY KEY (import_id, ord)
);
