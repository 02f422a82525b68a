import pg from 'pg';
import type { Db, Tx } from './db.ts';

// int8 (count(*), bigserial) as JS numbers: our counts stay far below 2^53.
pg.types.setTypeParser(20, (v) => Number(v));
// numeric (sums, percentiles) as numbers too.
pg.types.setTypeParser(1700, (v) => Number(v));

export async function openPg(url: string, statementTimeoutMs = 0): Promise<Db> {
  // JIT off: PostGIS functions are costed so high that the planner compiles nearly every spatial
  // query, which costs more than it saves here (coverage validation of 21,600 grids: 3.4 s with
  // JIT, 1.6 s without; see npm run bench:coverage).
  // A statement running past the limit is cancelled (57014), and the request answers 422 `too_slow`.
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    options: `-c jit=off${statementTimeoutMs > 0 ? ` -c statement_timeout=${statementTimeoutMs}` : ''}`,
  });
  // A connection lost while idle (PostgreSQL restarted, a failover, the network) is an event on the pool:
  // unheard, node ends the process. The pool drops that connection and opens a new one when asked.
  pool.on('error', (err) => console.error(`${new Date().toISOString()} database connection lost (a new one opens when needed): ${err.message}`));
  // Fail fast at start-up, with the driver's own message, when the server is unreachable.
  await pool.query('SELECT 1');
  return {
    driver: 'pg',
    url,
    query: (sql, params) => pool.query(sql, params as unknown[]) as never,
    async exec(sql) {
      await pool.query(sql);
    },
    async transaction(fn) {
      const client = await pool.connect();
      let broken: Error | undefined;
      // (a connection lost mid-transaction errs here too, as well as in the query that was waiting)
      const lost = (err: Error) => void (broken = err);
      client.on('error', lost);
      try {
        await client.query('BEGIN');
        const tx: Tx = {
          query: (sql, params) => client.query(sql, params as unknown[]) as never,
          exec: async (sql) => void (await client.query(sql)),
        };
        const result = await fn(tx);
        await client.query('COMMIT');
        return result;
      } catch (err) {
        await client.query('ROLLBACK').catch((e: Error) => void (broken ??= e));
        throw err;
      } finally {
        client.off('error', lost);
        // a broken connection is closed, not given back to the pool
        client.release(broken);
      }
    },
    close: () => pool.end(),
  };
}
