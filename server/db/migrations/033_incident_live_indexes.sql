-- Every analysis counts only live cases (void_kind IS NULL: a report marked invalid or merged is no
-- case), and the heat index (009) did not hold void_kind, so every count read the table's pages
-- too. Two partial indexes over the live cases with what the analyses read — the stored cells, the
-- status, both grids and the closing time — answer them from the index alone (once vacuumed):
-- by category and time when some categories are asked for, by time when all are. PostgreSQL,
-- 曲靖 (482,000 cases), two categories over two years by month: 300–550 ms → 57 ms; the
-- statistics per county for a month: 330 ms → 45 ms.
DROP INDEX IF EXISTS incident_heat_idx;
CREATE INDEX IF NOT EXISTS incident_live_category_idx ON incident (category, reported_at)
  INCLUDE (status, cell_x, cell_y, grid_id, filed_grid_id, closed_at) WHERE void_kind IS NULL;
CREATE INDEX IF NOT EXISTS incident_live_time_idx ON incident (reported_at)
  INCLUDE (category, status, cell_x, cell_y, grid_id, filed_grid_id, closed_at) WHERE void_kind IS NULL;
