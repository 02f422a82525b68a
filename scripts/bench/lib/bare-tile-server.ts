/**
 * The thinnest tile server there is, for bench:tiles' second baseline: node's own `http` server
 * answering `/{layer}/{z}/{x}/{y}` with the raw `ST_AsMVT` query's bytes, uncompressed — no
 * session, no validation, no cache, no gzip. What GridPlan's server costs beyond it is what its
 * serving stack adds; what it costs beyond the query alone is HTTP itself.
 *   DATABASE_URL=… tsx scripts/bench/lib/bare-tile-server.ts   (prints "bare tiles on http://…")
 */
import { createServer } from 'node:http';
import { openDb } from '../../../server/db/db.ts';
import { vectorTile, type TileLayer } from '../../../server/db/tiles.ts';

const db = await openDb({ databaseUrl: process.env.DATABASE_URL! });
const server = createServer((req, res) => {
  const m = /^\/(\w+)\/(\d+)\/(\d+)\/(\d+)$/.exec(req.url ?? '');
  if (!m) return void res.writeHead(404).end();
  vectorTile(db, m[1] as TileLayer, Number(m[2]), Number(m[3]), Number(m[4])).then(
    (bytes) => res.writeHead(200, { 'content-type': 'application/vnd.mapbox-vector-tile', 'content-length': bytes.length }).end(bytes),
    (e: Error) => res.writeHead(500).end(e.message),
  );
});
server.listen(0, () => {
  const a = server.address();
  console.log(`bare tiles on http://localhost:${typeof a === 'object' && a ? a.port : 0}`);
});
process.on('SIGTERM', () => server.close(() => void db.close().then(() => process.exit(0))));
