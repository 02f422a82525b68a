import { InputError } from './errors.ts';

export const INCIDENT_STATUSES = ['reported', 'dispatched', 'resolved', 'closed'] as const;
export type IncidentStatus = (typeof INCIDENT_STATUSES)[number];

/** The closed loop: report → dispatch (to a department) → resolve → close (with feedback). */
export const NEXT_STATUS: Record<IncidentStatus, IncidentStatus | null> = {
  reported: 'dispatched',
  dispatched: 'resolved',
  resolved: 'closed',
  closed: null,
};

export interface Transition {
  status: IncidentStatus;
  department?: string | undefined;
  feedback?: string | undefined;
  /** 就地解决: resolved where it happened, without a department (reported → resolved). */
  onSpot?: boolean | undefined;
  /** What was done on the spot. */
  note?: string | undefined;
  /** Closing: the resident's verdict. */
  satisfaction?: Satisfaction | undefined;
}

export const SATISFACTION = ['satisfied', 'basically', 'unsatisfied'] as const;
export type Satisfaction = (typeof SATISFACTION)[number];

/** Checks one step of the loop; throws 422 naming the allowed next step. */
export function checkTransition(from: IncidentStatus, to: Transition): void {
  if (to.onSpot) {
    // 就地解决: a case nobody was sent to is resolved where it happened, with what was done
    if (from !== 'reported' || to.status !== 'resolved') {
      throw new InputError('illegal_transition', `only a reported case is resolved on the spot (this one is ${from})`, 'onSpot', {
        from,
        to: to.status,
        allowed: from === 'reported' ? ['resolved'] : [],
      });
    }
    if (!to.note?.trim()) throw new InputError('note_required', 'say what was done on the spot', 'note');
    return;
  }
  const next = NEXT_STATUS[from];
  if (to.status !== next) {
    throw new InputError(
      'illegal_transition',
      next ? `an incident that is ${from} can only become ${next}, not ${to.status}` : `a closed incident does not change (asked: ${to.status})`,
      'status',
      { from, to: to.status, allowed: next ? [next] : [] },
    );
  }
  if (to.status === 'dispatched' && !to.department?.trim())
    throw new InputError('department_required', 'dispatching names the department it goes to', 'department');
  if (to.status === 'closed' && !to.feedback?.trim())
    throw new InputError('feedback_required', 'closing records the feedback given to the reporter', 'feedback');
}

/** A time range from query strings; `to` defaults to now, `from` to a year before `to`. */
export function parseRange(from: string | undefined, to: string | undefined, now = new Date()): { from: Date; to: Date } {
  const end = to ? parseInstant(to, 'to') : now;
  const start = from ? parseInstant(from, 'from') : new Date(end.getTime() - 365 * 86_400_000);
  if (start > end) throw new InputError('invalid_range', `from ${start.toISOString()} is after to ${end.toISOString()}`, 'from');
  return { from: start, to: end };
}

export function parseInstant(value: string, path: string): Date {
  // ISO 8601 dates or date-times only: Date.parse accepts too much ("1", "March 7").
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(value)) {
    throw new InputError('invalid_time', `${JSON.stringify(value)} is not an ISO 8601 date or date-time`, path);
  }
  const d = new Date(value);
  const [y, m, day] = value.slice(0, 10).split('-').map(Number) as [number, number, number];
  // Date rolls 2026-02-31 over into March; refuse days the month does not have.
  const realDay = m >= 1 && m <= 12 && day >= 1 && day <= new Date(Date.UTC(y, m, 0)).getUTCDate();
  if (Number.isNaN(d.getTime()) || !realDay) throw new InputError('invalid_time', `${JSON.stringify(value)} is not a real date`, path);
  // a year before 1900 is a typing slip, and a default range a year before it would leave the calendar PostgreSQL keeps
  if (y < 1900) throw new InputError('invalid_time', `${JSON.stringify(value)} lies before 1900`, path);
  // (nor after 9999 once its offset is applied: 9999-12-31T23:59-14:00 is in the year 10000, which no database column takes)
  if (d.getUTCFullYear() > 9999) throw new InputError('invalid_time', `${JSON.stringify(value)} lies after 9999`, path);
  return d;
}

/** `a,b,c` → ['a','b','c'], each checked against `allowed`. */
export function parseList<T extends string>(value: string | undefined, allowed: readonly T[], path: string): T[] | null {
  if (value === undefined || value.trim() === '') return null;
  const items = value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  items.forEach((item, i) => {
    if (!allowed.includes(item as T)) throw new InputError('unknown_value', `${JSON.stringify(item)} is not one of ${allowed.join(', ')}`, `${path}[${i}]`);
  });
  return items as T[];
}
