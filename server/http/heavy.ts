import type { Context } from 'hono';
import { InputError } from '../domain/errors.ts';
import { principalOf } from './auth.ts';
import type { Env } from './router.ts';

/**
 * Work that holds the server for seconds, gated: a few at a time per person and in all, so that
 * nobody's requests can queue everyone else's behind them (429: try again shortly).
 */
function gate(perPerson: number, inAll: number, code: string, mine: string, others: string) {
  const running = new Map<string, number>();
  let runningInAll = 0;
  return async <T>(c: Context<Env>, work: () => Promise<T>): Promise<T> => {
    const who = principalOf(c).username;
    if ((running.get(who) ?? 0) >= perPerson) throw new InputError(code, mine, '');
    if (runningInAll >= inAll) throw new InputError(code, others, '');
    running.set(who, (running.get(who) ?? 0) + 1);
    runningInAll++;
    try {
      return await work();
    } finally {
      runningInAll--;
      const n = (running.get(who) ?? 1) - 1;
      if (n > 0) running.set(who, n);
      else running.delete(who);
    }
  };
}

/** Exports (which share GDAL's threads with imports) and plan comparisons: one per person, four in all. */
export const limited = gate(
  1,
  4,
  'too_many_exports',
  'your previous export or comparison is still being made; wait for it, then ask again',
  'the server is making other exports or comparisons; try again in a moment',
);

/**
 * Auto-splits, previews as well as commits: one per person, two in all (each takes a core for seconds
 * to a minute; six previews of a township at once held every other request for tens of seconds).
 */
export const splitting = gate(
  1,
  2,
  'too_many_splits',
  'your previous auto-split is still being worked out; wait for it, then ask again',
  'the server is working out other auto-splits; try again in a moment',
);

/**
 * 考核 worked out for a month (a district's every grid and worker, about a second on the embedded database): two per person
 * (a second tab) and three in all, so that one account asking month after month cannot hold everyone else's requests.
 */
export const reckoning = gate(
  2,
  3,
  'too_many_assessments',
  'your previous assessments are still being worked out; wait for them, then ask again',
  'the server is working out other assessments; try again in a moment',
);

/**
 * Reads that ask the database, taken in turn per person: a few at a time each, the rest waiting in line, and past a
 * long line refused (429). The embedded database answers one question at a time, first come first served, so thirty
 * coverage checks sent at once by one account (each tolerance a new answer) had every other account's requests wait
 * behind all of them — a sign-in 9 s, the health check 24 s. Now the others wait behind at most `lanes` of them.
 * Answers kept by the read cache never queue (only their computation does), nor vector tiles (milliseconds each, and
 * a map asks many at once). Requests without an account run as they come.
 */
export function inTurn(lanes: number, waiting: number) {
  const people = new Map<string, { running: number; line: (() => void)[] }>();
  const turn = async <T>(c: Context<Env>, work: () => Promise<T>): Promise<T> => {
    const who = c.get('principal')?.username;
    if (who === undefined) return work();
    let mine = people.get(who);
    if (!mine) people.set(who, (mine = { running: 0, line: [] }));
    if (mine.running < lanes) mine.running++;
    else if (mine.line.length >= waiting) {
      throw new InputError('too_many_requests', `${waiting} of your requests are already waiting for an answer; wait for them, then ask again`, '');
    } else await new Promise<void>((resolve) => mine.line.push(resolve));
    try {
      return await work();
    } finally {
      // the lane passes to the next in line, or is given back
      const next = mine.line.shift();
      if (next) next();
      else if (--mine.running === 0) people.delete(who);
    }
  };
  return Object.assign(turn, { lanes, waiting });
}

/** Reads computed from the database: three at a time per person, thirty-two more waiting. */
export const turns = inTurn(3, 32);
