import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { createInterface } from 'node:readline';

const ROOT = resolve(import.meta.dirname, '..', '..');

/** `npm start`'s server as a child process on a free port (benchmarks, crash tests). */
export interface ChildServer {
  child: ChildProcess;
  url: string;
}

/** Starts `server/main.ts` with `env` on top of ours; resolves once it serves. */
export function startChild(env: Record<string, string>): Promise<ChildServer> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'server/main.ts'], {
    cwd: ROOT,
    env: { ...process.env, PORT: '0', GRIDPLAN_SEED_DEMO: '0', DATABASE_URL: '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  return new Promise((done, fail) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      log += `${line}\n`;
      const m = /GridPlan on (http:\/\/localhost:\d+)/.exec(line);
      if (m) done({ child, url: m[1]! });
    });
    child.on('exit', (code) => fail(new Error(`server exited (${code}) before it was ready:\n${log}`)));
  });
}

export function stopChild(s: ChildServer, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise((done) => {
    if (s.child.exitCode !== null || s.child.signalCode !== null) return done();
    s.child.once('exit', () => done());
    s.child.kill(signal);
  });
}
