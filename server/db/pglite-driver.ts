import { PGlite, types } from '@electric-sql/pglite';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { Db } from './db.ts';
import { postgisExtension } from './postgis-bundle.ts';

const gzipAsync = promisify(gzip);

const parsers = {
  [types.INT8]: (v: string) => Number(v),
  [types.NUMERIC]: (v: string) => Number(v),
};

/** Whether a statement always answers with a row description (even with no rows). */
export function expectsRows(sql: string): boolean {
  // The main statement's verb: the first verb outside parentheses and quotes (after a WITH list).
  let depth = 0;
  let quoted = false;
  for (const token of sql.replace(/--[^\n]*/g, ' ').match(/'|\(|\)|\b[A-Za-z]+\b/g) ?? []) {
    if (token === "'") quoted = !quoted;
    else if (quoted) continue;
    else if (token === '(') depth++;
    else if (token === ')') depth--;
    else if (depth === 0) {
      const word = token.toUpperCase();
      if (word === 'SELECT' || word === 'VALUES' || word === 'TABLE') return true;
      if (word === 'INSERT' || word === 'UPDATE' || word === 'DELETE') return /\bRETURNING\b[^()]*$/i.test(sql);
      if (['CREATE', 'DROP', 'ALTER', 'BEGIN', 'COMMIT', 'ROLLBACK', 'TRUNCATE', 'SET'].includes(word)) return false;
    }
  }
  return false;
}

/**
 * GEOS in PGlite's WebAssembly build can abort a query without an error: the result then has no
 * row description. A query that should describe its rows and does not is a failure, not an empty answer.
 */
export function checked<T extends { fields: unknown[] }>(sql: string, result: T): T {
  if (result.fields.length === 0 && expectsRows(sql)) {
    throw new Error(`PGlite returned no result for a query that must describe its rows (a PostGIS/GEOS operation failed silently): ${sql.slice(0, 120)}`);
  }
  return result;
}

/**
 * PGlite has no postmaster to keep a second process out of its folder, and two processes writing
 * one folder corrupt it (`npm run seed` while `npm start` runs). A lock file naming the owner's pid
 * refuses the second opener; a lock left by a process that no longer runs is taken over.
 */
function lockFolder(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const lock = join(dataDir, 'gridplan.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(lock, String(process.pid), { flag: 'wx' });
      return () => rmSync(lock, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const owner = Number(readFileSync(lock, 'utf8'));
      if (alive(owner)) {
        throw new Error(`the database folder ${dataDir} is in use by process ${owner}; stop it first (two processes would corrupt it)`, { cause: err });
      }
      rmSync(lock, { force: true });
    }
  }
  throw new Error(`could not lock the database folder ${dataDir}`);
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

let compiled: Promise<WebAssembly.Module | undefined> | null = null;

/**
 * PGlite's own WebAssembly (10 MB), compiled once per process and handed to each database thread:
 * compiling it took 0.4–0.5 s of CPU at every open (undefined: PGlite compiles it itself).
 */
export function pgliteModule(): Promise<WebAssembly.Module | undefined> {
  return (compiled ??= Promise.resolve()
    .then(() => readFile(join(dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite')), 'pglite.wasm')))
    .then((bytes) => WebAssembly.compile(bytes))
    .catch(() => undefined));
}

/** Opens PGlite with PostGIS and our type parsers (no lock: the caller holds it). */
export async function createPglite(dataDir: string, wasmModule?: WebAssembly.Module): Promise<PGlite> {
  return PGlite.create({
    dataDir: dataDir === 'memory://' ? undefined : dataDir,
    extensions: { postgis: postgisExtension() },
    parsers,
    wasmModule: wasmModule ?? (await pgliteModule()),
  });
}

/**
 * The data folder as a gzipped tarball, consistent: taken between transactions (PGlite runs one
 * thing at a time, and the empty transaction held here keeps any other out), after a checkpoint,
 * so it opens without replaying much WAL. Opened again with PGlite's `loadDataDir`. Only the plain
 * tarball is made while everyone waits; it is compressed after, on libuv's threads (the demo's
 * 526 MB: 18.5 s of waiting with PGlite's own gzip, 6.2 s now; the compression's 15 s wait for no one).
 */
export async function dumpDataDir(pglite: PGlite): Promise<Uint8Array> {
  await pglite.exec('CHECKPOINT');
  let file: Blob | null = null;
  await pglite.transaction(async () => {
    file = await pglite.dumpDataDir('none');
  });
  return new Uint8Array(await gzipAsync(new Uint8Array(await file!.arrayBuffer()), { level: 6 }));
}

export async function openPglite(dataDir: string): Promise<Db> {
  const unlock = dataDir === 'memory://' ? () => {} : lockFolder(dataDir);
  let pglite: PGlite;
  try {
    pglite = await createPglite(dataDir);
  } catch (err) {
    unlock();
    throw err;
  }
  // PGlite runs one statement at a time; a transaction holds it exclusively,
  // so concurrent requests queue behind it instead of interleaving.
  return {
    driver: 'pglite',
    query: async (sql, params) => checked(sql, await pglite.query(sql, params)) as never,
    async exec(sql) {
      await pglite.exec(sql);
    },
    transaction: (fn) =>
      pglite.transaction((tx) =>
        fn({ query: async (sql, params) => checked(sql, await tx.query(sql, params)) as never, exec: async (sql) => void (await tx.exec(sql)) }),
      ),
    dump: () => dumpDataDir(pglite),
    close: async () => {
      await pglite.close();
      unlock();
    },
  };
}

type Request = import('./pglite-thread.ts').Request;
type Reply = import('./pglite-thread.ts').Reply;
type Message = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** How long a statement inside a transaction is waited for synchronously before the caller's thread is let go. */
const SYNC_WAIT_MS = 50;

/** Resolves once `signal[0]` is no longer `value` (`Atomics.waitAsync`, typed here: TypeScript has it from ES2024). */
async function waitAsync(signal: Int32Array, value: number): Promise<void> {
  const waiting = (Atomics as unknown as { waitAsync: (a: Int32Array, i: number, v: number) => { async: boolean; value: Promise<string> | string } }).waitAsync(
    signal,
    0,
    value,
  );
  if (waiting.async) await waiting.value;
}

const asError = (r: Reply & { ok: false }) => Object.assign(new Error(r.error.message), r.error.fields);

/**
 * PGlite in a worker thread (`pglite-thread.ts`) behind the same interface: the server's own
 * thread stays free while a query runs, so cached answers, health checks and event streams never
 * wait for the database. Statements still run one at a time, and a transaction still holds the
 * database until it ends.
 *
 * Statements inside a transaction are the exception: while one is open, nothing else can use the
 * database, so its statements must not wait their turn behind hundreds of requests on the
 * server's thread (under load that held the database ten times longer than the statements took).
 * The caller waits for them synchronously, for up to `SYNC_WAIT_MS` each, as it did when the
 * database ran on its thread; a longer statement (a bulk import) lets it go meanwhile. The first
 * statement begins the transaction, so the database is not held while the answer to a separate
 * BEGIN waits its turn on the caller's thread.
 */
/** The database thread and its two channels: `send` for statements outside transactions, `sendTx` inside one. */
async function connectThread(dataDir: string, unlock: () => void) {
  // The worker is TypeScript: it loads through tsx's API, as `npm start` loads the server.
  const tsxApi = pathToFileURL(join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/esm/api/index.mjs')).href;
  const boot = `import(${JSON.stringify(tsxApi)})
    .then((tsx) => tsx.tsImport(${JSON.stringify(new URL('./pglite-thread.ts', import.meta.url).href)}, ${JSON.stringify(import.meta.url)}))`;
  const channel = new MessageChannel();
  const txPort = channel.port1;
  const signal = new Int32Array(new SharedArrayBuffer(4));
  const worker = new Worker(boot, {
    eval: true,
    workerData: { dataDir, txPort: channel.port2, signal: signal.buffer, wasmModule: await pgliteModule() },
    transferList: [channel.port2],
  });
  txPort.unref();
  const pending = new Map<number, { resolve: (r: Reply & { ok: true }) => void; reject: (e: Error) => void }>();
  let nextId = 1;
  let failed: Error | null = null;
  let died!: (err: Error) => void;
  const death = new Promise<never>((_, reject) => (died = reject));
  death.catch(() => {});
  // An idle database thread does not keep the process alive; one with work to answer does.
  let busy = 0;
  const hold = () => void (busy++ === 0 && worker.ref());
  const release = () => void (--busy === 0 && worker.unref());

  const ready = new Promise<void>((resolve, reject) => pending.set(0, { resolve: () => resolve(), reject }));
  const fail = (err: Error) => {
    failed = err;
    died(err);
    for (const p of pending.values()) p.reject(err);
    pending.clear();
  };
  worker.on('message', (r: Reply) => {
    const p = pending.get(r.id);
    if (!p) return;
    pending.delete(r.id);
    if (r.id !== 0) release();
    if (r.ok) p.resolve(r);
    else p.reject(asError(r));
  });
  worker.on('error', fail);
  worker.on('exit', (code) => fail(new Error(`the database thread exited (code ${code})`)));
  const send = (m: Message) =>
    new Promise<Reply & { ok: true }>((resolve, reject) => {
      if (failed) return reject(failed);
      const id = nextId++;
      hold();
      pending.set(id, { resolve, reject });
      worker.postMessage({ ...m, id });
    });
  /**
   * A statement of the open transaction, answered on `txPort` (see above). One transaction at a
   * time (as the database allows anyway) and one statement at a time on that port, so the answer
   * that arrives is the one awaited.
   */
  let portTail: Promise<unknown> = Promise.resolve();
  const sendTx = (m: Message): Promise<Reply & { ok: true }> => {
    const turn = portTail.then(() => exchange(m));
    portTail = turn.catch(() => {});
    return turn;
  };
  const exchange = async (m: Message): Promise<Reply & { ok: true }> => {
    if (failed) throw failed;
    // The thread stores the id of each answer it sends in `signal`: we wait for ours. (A wake-up
    // can come from the notify of the answer before, so the value is checked, not the wake-up.)
    const id = (nextId++ % 0x7fffffff) + 1;
    txPort.postMessage({ ...m, id });
    // A transaction's first statement waits for the database: only worth waiting for here when nothing else is asking it.
    let sync = !('tx' in m && m.tx === 'new' && pending.size > 0);
    const until = performance.now() + SYNC_WAIT_MS;
    for (let seen = Atomics.load(signal, 0); seen !== id; seen = Atomics.load(signal, 0)) {
      const left = until - performance.now();
      if (sync && left > 0) Atomics.wait(signal, 0, seen, left);
      else {
        sync = false;
        await Promise.race([waitAsync(signal, seen), death]);
      }
    }
    // Answers come in order, one at a time; anything older left on the port is dropped.
    for (;;) {
      const got = receiveMessageOnPort(txPort);
      if (!got) throw new Error(`the database thread signalled answer ${id} but did not send it`);
      const r = got.message as Reply;
      if (r.id !== id) continue;
      if (!r.ok) throw asError(r);
      return r;
    }
  };
  try {
    await ready;
  } catch (err) {
    await worker.terminate();
    unlock();
    throw err;
  }
  worker.unref();
  return { send, sendTx, hold, release, worker, txPort };
}

export async function openPgliteThread(dataDir: string): Promise<Db> {
  const unlock = dataDir === 'memory://' ? () => {} : lockFolder(dataDir);
  const { send, sendTx, hold, release, worker, txPort } = await connectThread(dataDir, unlock);
  // One transaction at a time (as the database allows anyway): each waits for the one before.
  let txTail: Promise<void> = Promise.resolve();
  return {
    driver: 'pglite',
    query: async (sql, params) => ({ rows: (await send({ op: 'query', sql, params })).rows as never[] }),
    exec: async (sql) => void (await send({ op: 'exec', sql })),
    dump: async () => (await send({ op: 'dump' })).bytes!,
    async transaction(fn) {
      const before = txTail;
      let done!: () => void;
      txTail = new Promise<void>((resolve) => (done = resolve));
      await before;
      // Begun by its first statement (see `TxRef`), so the database is not held while this thread gets round to it.
      let tx: number | undefined;
      // In order: the first must have begun the transaction before the next is sent.
      let last: Promise<unknown> = Promise.resolve();
      const call = (m: Message & { op: 'query' | 'exec' }) => {
        const r = last.then(async () => {
          const answer = await sendTx({ ...m, tx: tx ?? 'new' });
          tx ??= answer.tx;
          return answer;
        });
        last = r.catch(() => {});
        return r;
      };
      hold();
      try {
        let result;
        try {
          result = await fn({
            query: async (sql, params) => ({ rows: (await call({ op: 'query', sql, params })).rows as never[] }),
            exec: async (sql) => void (await call({ op: 'exec', sql })),
          });
        } catch (err) {
          if (tx !== undefined) await sendTx({ op: 'end', tx, commit: false }).catch(() => {});
          throw err;
        }
        if (tx !== undefined) await sendTx({ op: 'end', tx, commit: true });
        return result;
      } finally {
        release();
        done();
      }
    },
    close: async () => {
      await send({ op: 'close' }).catch(() => {});
      await worker.terminate();
      txPort.close();
      unlock();
    },
  };
}
