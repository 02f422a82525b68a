/**
 * The embedded database in its own thread (see `openPgliteThread`). PGlite executes each query
 * synchronously in WebAssembly: on the server's thread, a two-second statistics query would stall
 * every other request, even those the read cache could answer at once. Here it stalls only this
 * thread. Messages: `query`/`exec` (optionally inside a transaction), `begin`/`end` of a
 * transaction, `close`. Each answer carries the request's id.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import type { PGlite, Transaction } from '@electric-sql/pglite';
import { createPglite, checked, dumpDataDir } from './pglite-driver.ts';

export type Request =
  | { id: number; op: 'query'; sql: string; params?: unknown[] | undefined; tx?: TxRef }
  | { id: number; op: 'exec'; sql: string; tx?: TxRef }
  | { id: number; op: 'end'; tx: number; commit: boolean }
  | { id: number; op: 'dump' }
  | { id: number; op: 'close' };

/** Outside any transaction, inside an open one, or `new`: begin one and run the statement first in it. */
export type TxRef = number | 'new' | undefined;

export type Reply = { id: number; ok: true; rows?: unknown[] | undefined; tx?: number; bytes?: Uint8Array } | { id: number; ok: false; error: SerializedError };

/** An error as plain data: its message and the driver's fields (`code`, `detail`, `column`, …). */
export interface SerializedError {
  message: string;
  fields: Record<string, unknown>;
}

export function serializeError(err: unknown): SerializedError {
  if (!(err instanceof Error)) return { message: String(err), fields: {} };
  const fields: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(err)) if (v === null || ['string', 'number', 'boolean'].includes(typeof v)) fields[k] = v;
  return { message: err.message, fields };
}

/** GRIDPLAN_SLOW_QUERY_MS: log statements slower than this (off by default). */
const SLOW_MS = Number(process.env.GRIDPLAN_SLOW_QUERY_MS ?? 0);

interface Open {
  began: number;
  executing: number;
  statements: number;
  tx: Transaction;
  finish: (commit: boolean) => void;
  done: Promise<void>;
}

/**
 * Serves both channels: `parentPort` for statements outside transactions (answered
 * asynchronously), and `txPort` for statements inside one, whose answers the caller may wait for
 * synchronously (see `signal`): while a transaction is open it holds the database, so its
 * statements must not queue behind the caller's other work.
 */
async function serve(pglite: PGlite, txPort: MessagePort, signal: Int32Array): Promise<void> {
  const port = parentPort!;
  const transactions = new Map<number, Open>();
  let nextTx = 1;

  /** Begins a transaction: PGlite's holds the database until its callback settles, which it does on `end`. */
  async function begin(): Promise<number> {
    const txId = nextTx++;
    let begun!: (tx: Transaction) => void;
    const started = new Promise<Transaction>((resolve) => (begun = resolve));
    let finish!: (commit: boolean) => void;
    const decided = new Promise<boolean>((resolve) => (finish = resolve));
    const ROLLBACK = Symbol('rollback');
    const done = pglite
      .transaction(async (tx) => {
        begun(tx);
        if (!(await decided)) throw ROLLBACK;
      })
      .catch((err: unknown) => {
        if (err !== ROLLBACK) throw err;
      });
    // A failure to begin (or a broken database) reaches the caller instead of hanging it.
    const tx = await Promise.race([
      started,
      done.then(() => {
        throw new Error('the transaction ended before it began');
      }),
    ]);
    transactions.set(txId, { tx, finish, done, began: performance.now(), executing: 0, statements: 0 });
    return txId;
  }

  async function end(txId: number, commit: boolean): Promise<void> {
    const open = transactions.get(txId);
    if (!open) throw new Error(`no open transaction ${txId}`);
    transactions.delete(txId);
    open.finish(commit);
    await open.done;
    const held = performance.now() - open.began;
    if (SLOW_MS > 0 && held > SLOW_MS)
      console.error(`slow transaction: held ${held.toFixed(0)} ms, ${open.statements} statements executing ${open.executing.toFixed(0)} ms`);
  }

  async function run(m: Request & { op: 'query' | 'exec' }, txId: number | undefined): Promise<unknown[] | undefined> {
    const open = txId === undefined ? undefined : transactions.get(txId);
    if (txId !== undefined && !open) throw new Error(`no open transaction ${txId}`);
    const on = open?.tx ?? pglite;
    const t0 = performance.now();
    const rows = m.op === 'query' ? checked(m.sql, await on.query(m.sql, m.params)).rows : void (await on.exec(m.sql));
    const ms = performance.now() - t0;
    if (open) {
      open.executing += ms;
      open.statements++;
    }
    if (SLOW_MS > 0 && ms > SLOW_MS) console.error(`slow query ${ms.toFixed(0)} ms: ${m.sql.replace(/\s+/g, ' ').slice(0, 160)}`);
    return rows;
  }

  async function handle(m: Request): Promise<Reply> {
    try {
      switch (m.op) {
        case 'query':
        case 'exec': {
          if (m.tx !== 'new') return { id: m.id, ok: true, rows: await run(m, m.tx) };
          // The transaction's first statement begins it: no round trip while it holds the database.
          const txId = await begin();
          try {
            return { id: m.id, ok: true, rows: await run(m, txId), tx: txId };
          } catch (err) {
            await end(txId, false).catch(() => {});
            throw err;
          }
        }
        case 'end':
          await end(m.tx, m.commit);
          return { id: m.id, ok: true };
        case 'dump':
          return { id: m.id, ok: true, bytes: await dumpDataDir(pglite) };
        case 'close':
          await pglite.close();
          setImmediate(() => port.close());
          return { id: m.id, ok: true };
      }
    } catch (err) {
      return { id: m.id, ok: false, error: serializeError(err) };
    }
  }

  port.on('message', (m: Request) => void handle(m).then((r) => port.postMessage(r, r.ok && r.bytes ? [r.bytes.buffer as ArrayBuffer] : [])));
  txPort.on(
    'message',
    (m: Request) =>
      void handle(m).then((r) => {
        // The answer is queued before the waiting caller wakes to take it.
        txPort.postMessage(r);
        Atomics.store(signal, 0, r.id);
        Atomics.notify(signal, 0);
      }),
  );
}

if (parentPort) {
  const { dataDir, txPort, signal, wasmModule } = workerData as {
    dataDir: string;
    txPort: MessagePort;
    signal: SharedArrayBuffer;
    wasmModule?: WebAssembly.Module;
  };
  try {
    const pglite = await createPglite(dataDir, wasmModule);
    await serve(pglite, txPort, new Int32Array(signal));
    parentPort.postMessage({ id: 0, ok: true } satisfies Reply);
  } catch (err) {
    parentPort.postMessage({ id: 0, ok: false, error: serializeError(err) } satisfies Reply);
  }
}
