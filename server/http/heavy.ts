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
