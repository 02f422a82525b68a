import { z } from '@hono/zod-openapi';
import { InputError } from './errors.ts';

/** `asOf=YYYY-MM-DD` on plan reads: the plan as it stood at the end of that day, China Standard Time. */
export const AsOfQuery = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'a date: YYYY-MM-DD')
  .optional()
  .openapi({ description: 'the plan as it stood at the end of this day (China Standard Time); left out: as it is now', example: '2026-05-01' });

/** The instant a day's plan is read at (the end of the day in China Standard Time), or null for now. */
export function asOfInstant(date: string | undefined, path = 'asOf'): Date | null {
  if (date === undefined) return null;
  const start = new Date(`${date}T00:00:00+08:00`);
  const year = Number(date.slice(0, 4));
  // 2026-02-30 parses as March 2nd: a date must come back as itself
  const same = !Number.isNaN(start.getTime()) && new Date(start.getTime() + 8 * 3_600_000).toISOString().slice(0, 10) === date;
  if (!same || year < 1900 || year > 2200)
    throw new InputError('invalid_date', `${JSON.stringify(date)} is no day of the calendar between 1900 and 2200`, path);
  return new Date(start.getTime() + 86_400_000);
}
