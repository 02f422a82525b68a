import type { Context } from 'hono';
import { InputError } from '../domain/errors.ts';
import { principalOf } from './auth.ts';
import type { Env } from './router.ts';

/**
 * Heavy reads — exports (which share one GDAL worker with imports) and plan comparisons — one at a
 * time per person and a few in all, so that nobody's requests can queue everyone else's behind
 * them (429: try again shortly).
 */
const EXPORTS_PER_PERSON = 1;
const EXPORTS_IN_ALL = 4;
const running = new Map<string, number>();
let runningInAll = 0;
export async function limited<T>(c: Context<Env>, work: () => Promise<T>): Promise<T> {
  const who = principalOf(c).username;
  if ((running.get(who) ?? 0) >= EXPORTS_PER_PERSON) {
    throw new InputError('too_many_exports', 'your previous export or comparison is still being made; wait for it, then ask again', '');
  }
  if (runningInAll >= EXPORTS_IN_ALL) throw new InputError('too_many_exports', 'the server is making other exports or comparisons; try again in a moment', '');
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
}
