import { existsSync, readdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { join, relative, resolve } from 'node:path';
import { serve, type ServerType } from '@hono/node-server';
import { serveStatic } from '@hono/node-server/serve-static';
import { escalateOverdue } from './db/dispatches.ts';
import { cstDay, recordPlanFigures } from './db/overview.ts';
import { maintain } from './db/db.ts';
import { backup, backupDue, listBackups, pruneBackups } from './db/backup.ts';
import { EventBus } from './http/events.ts';
import { createApp, newReadCache, newTileCache, type AppOptions } from './app.ts';
import { publishDue } from './db/draft-review.ts';
import { notifyDeadlinesNear } from './db/notifications.ts';
import { deliverDue } from './db/webhooks.ts';
import { Peers } from './http/peers.ts';

export const ROOT = resolve(import.meta.dirname, '..');
export const DIST_DIR = join(ROOT, 'dist', 'web');

function newestMtime(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/**
 * A request node cannot read (headers past its 16 KB, a malformed request line) is answered in the
 * same shape as every other refusal, instead of node's bare status line, and the connection closed.
 */
function refuseUnreadable(err: Error & { code?: string }, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || !socket.writable) {
    socket.destroy();
    return;
  }
  const big = err.code === 'HPE_HEADER_OVERFLOW';
  const body = JSON.stringify({
    error: big
      ? { code: 'headers_too_large', message: 'the request headers are too large (at most 16 KB): sign in again or clear this site’s cookies', path: 'headers' }
      : { code: 'bad_request', message: 'the request could not be read', path: '' },
  });
  const status = big ? '431 Request Header Fields Too Large' : '400 Bad Request';
  socket.end(
    `HTTP/1.1 ${status}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Builds the web app when there is no build or its sources changed since the last one. */
export async function ensureWebBuild(log: (msg: string) => void = console.log): Promise<void> {
  const index = join(DIST_DIR, 'index.html');
  if (existsSync(index) && statSync(index).mtimeMs >= newestMtime(join(ROOT, 'web'))) return;
  log('building the web app…');
  const { build } = await import('vite');
  // Built beside the one served and put in its place at once: another server on this folder (a restart beside the running
  // one, after an upgrade) never finds the build half written or gone (its pages answered 500 while vite emptied it).
  const fresh = `${DIST_DIR}.${process.pid}-${Date.now()}`;
  const old = `${fresh}.old`;
  try {
    await build({ configFile: join(ROOT, 'vite.config.ts'), root: join(ROOT, 'web'), logLevel: 'warn', build: { outDir: fresh, emptyOutDir: true } });
    if (existsSync(DIST_DIR)) renameSync(DIST_DIR, old);
    try {
      renameSync(fresh, DIST_DIR);
    } catch (err) {
      // another server's build of the same sources landed between the two renames: it serves
      if (!existsSync(index)) throw err;
    }
  } finally {
    rmSync(fresh, { recursive: true, force: true });
    rmSync(old, { recursive: true, force: true });
  }
}

export interface RunningServer {
  port: number;
  url: string;
  close(): Promise<void>;
}

/** Serves the API and the built web app on one port (0 picks a free one). */
/** How often overdue dispatches are escalated. */
const ESCALATION_EVERY_MS = 60_000;
/** How often due webhook deliveries are sent. */
const DELIVER_EVERY_MS = 5_000;
/** The first daily backup waits this long after start. */
const BACKUP_AFTER_START_MS = 10 * 60_000;

export async function startServer(options: AppOptions & { port: number }): Promise<RunningServer> {
  const events = options.events ?? new EventBus();
  const cache = options.cache === false ? null : (options.cache ?? newReadCache(options));
  const tiles = options.cache === false || options.tiles === false ? null : (options.tiles ?? newTileCache(options));
  const app = createApp({ ...options, events, cache: cache ?? false, tiles: tiles ?? false });
  // On PostgreSQL other processes may serve the same database: they hear of each other's writes and events.
  const peers = options.db.driver === 'pg' && options.db.url ? new Peers(options.db, { cache, tiles, events }) : null;
  await peers?.start();
  // Drafts approved to take effect on a later day are published when it comes.
  const publishScheduled = async () => {
    try {
      const published = await publishDue(options.db, options.clock?.() ?? new Date());
      if (published.length) cache?.bump(['plan', 'layout', 'plan*', 'incidents']);
      if (published.length) await tiles?.sync(options.db);
    } catch (err) {
      console.error('publishing scheduled drafts failed:', err);
    }
  };
  // Overdue dispatches go up a level without anyone asking: every minute, and once at start.
  const escalate = async () => {
    try {
      const now = options.clock?.() ?? new Date();
      const escalated = await options.db.transaction(async (tx) => {
        await notifyDeadlinesNear(tx, now);
        return escalateOverdue(tx, 'system:escalation', now);
      });
      if (escalated.length) events.publish({ type: 'incident', action: 'escalate', count: escalated.length });
    } catch (err) {
      console.error('escalation failed:', err);
    }
  };
  // The plan's figures once a day, for the screen's change against a month ago; then the embedded
  // database's housekeeping.
  let recordedDay = '';
  const record = async () => {
    const day = cstDay(options.clock?.() ?? new Date());
    if (day === recordedDay) return;
    try {
      await options.db.transaction((tx) => recordPlanFigures(tx, day));
      recordedDay = day;
    } catch (err) {
      console.error('recording the plan figures failed:', err);
      return;
    }
    await maintain(options.db).catch((err) => console.error('database housekeeping failed:', err));
  };
  // A backup a day, kept `keep` deep: the first one some minutes after start (not during the first
  // start's demo load or a test's short run), then in the night (02:00–05:00 China time) once the
  // newest is half a day old — the embedded database holds everyone for a few seconds while it is
  // taken — or, on a server that sleeps at night, once the newest is 26 hours old.
  const startedAt = Date.now();
  let backingUp = false;
  const dailyBackup = async () => {
    const b = options.backups;
    if (!b || b.keep <= 0 || backingUp || Date.now() - startedAt < BACKUP_AFTER_START_MS) return;
    const newest = (await listBackups(b.dir))[0];
    if (newest && !backupDue(Date.now() - Date.parse(newest.at), new Date())) return;
    backingUp = true;
    try {
      const written = await backup(options.db, b.dir, new Date(), 'daily');
      await pruneBackups(b.dir, b.keep);
      console.log(`daily backup: ${written.file} (${(written.bytes / 1e6).toFixed(1)} MB)`);
    } catch (err) {
      console.error('daily backup failed:', err);
    } finally {
      backingUp = false;
    }
  };
  const tick = () => void escalate().then(publishScheduled).then(record).then(dailyBackup);
  tick();
  const timer = setInterval(tick, ESCALATION_EVERY_MS);
  timer.unref();
  // Webhook deliveries: those due are sent every few seconds (one round at a time).
  let delivering = false;
  const deliver = async () => {
    if (delivering) return;
    delivering = true;
    try {
      await deliverDue(options.db, options.clock?.() ?? new Date(), options.webhookLoopback ?? false);
    } catch (err) {
      console.error('webhook delivery failed:', err);
    } finally {
      delivering = false;
    }
  };
  const deliveryTimer = setInterval(() => void deliver(), DELIVER_EVERY_MS);
  deliveryTimer.unref();
  const index = join(DIST_DIR, 'index.html');
  await readFile(index, 'utf8'); // fail at start-up, not on the first request, when the app is not built
  // serveStatic resolves its root against the working directory.
  app.use('/*', serveStatic({ root: relative(process.cwd(), DIST_DIR) || '.' }));
  // Client-side routes (/plan, /analyze, /screen) all load the app shell.
  // Read per request (a few KB): after a rebuild the shell names the new asset files.
  app.get('*', async (c) => c.html(await readFile(index, 'utf8')));
  const server: ServerType = await new Promise((done) => {
    const s = serve({ fetch: app.fetch, port: options.port }, () => done(s));
    s.on('clientError', refuseUnreadable);
  });
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    url: `http://localhost:${port}`,
    close: () =>
      new Promise((done) => {
        clearInterval(timer);
        clearInterval(deliveryTimer);
        void peers?.close();
        server.close(() => done());
      }),
  };
}
