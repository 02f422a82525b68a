/** Periods of the analyst's window, in China time: a day's start, the period before (环比), the same period a year before (同比). */
export const monthStart = (ym: string) => `${ym}-01T00:00:00+08:00`;
export const DAY = 86_400_000;
/** A China-time day (YYYY-MM-DD) as the instant it starts. */
export const dayStart = (d: string) => `${d}T00:00:00+08:00`;
/** The China-time day (YYYY-MM-DD) an instant falls on. */
export const dayOf = (iso: string) => new Date(Date.parse(iso) + 8 * 3_600_000).toISOString().slice(0, 10);
export const isDay = (d: string) => /^\d{4}-\d{2}-\d{2}$/.test(d) && !Number.isNaN(Date.parse(d));

/** The China-time month (YYYY-MM) `n` months after (or before, negative) one. */
const addMonths = (ym: string, n: number) => {
  const [y, m] = ym.split('-').map(Number) as [number, number];
  const k = y * 12 + (m - 1) + n;
  return `${Math.floor(k / 12)}-${String((k % 12) + 1).padStart(2, '0')}`;
};

/**
 * The period just before a window, for comparison: the month before a month; as many whole months
 * before whole months (a year: the year before, 365 or 366 days as it had); else as many days
 * ending where the window starts.
 */
export function previousRange(range: { from: string; to: string }, month: string | null): { from: string; to: string } {
  if (month) return { from: monthStart(addMonths(month, -1)), to: range.from };
  const [a, b] = [dayOf(range.from), dayOf(range.to)];
  if (a.endsWith('-01') && b.endsWith('-01') && range.from === dayStart(a) && range.to === dayStart(b) && b > a) {
    const months = (Number(b.slice(0, 4)) - Number(a.slice(0, 4))) * 12 + Number(b.slice(5, 7)) - Number(a.slice(5, 7));
    return { from: monthStart(addMonths(a.slice(0, 7), -months)), to: range.from };
  }
  const from = Date.parse(range.from);
  const days = Math.round((Date.parse(range.to) - from) / DAY);
  return { from: dayStart(dayOf(new Date(from - days * DAY).toISOString())), to: range.from };
}
/**
 * The same window a year before, for 同比 (year on year): the same month last year, else the same
 * China-time days (29 February: the 28th).
 */
export function yearAgoRange(range: { from: string; to: string }): { from: string; to: string } {
  const back = (iso: string) => {
    const [y, m, d] = dayOf(iso).split('-').map(Number) as [number, number, number];
    const last = new Date(Date.UTC(y - 1, m, 0)).getUTCDate();
    return dayStart(`${y - 1}-${String(m).padStart(2, '0')}-${String(Math.min(d, last)).padStart(2, '0')}`);
  };
  return { from: back(range.from), to: back(range.to) };
}

/**
 * A window still under way (it ends after `now`) is compared with as much of the other period as
 * has passed of its own: 1–5 December 14:00 with 1–5 November 14:00, not with all of November (环比
 * 同期). Returns the other period unchanged for a window that has ended, with `partial` false.
 */
export function soFar(other: { from: string; to: string }, range: { from: string; to: string }, now: number): { from: string; to: string; partial: boolean } {
  const [start, end] = [Date.parse(range.from), Date.parse(range.to)];
  if (!(now > start && now < end)) return { ...other, partial: false };
  const to = Math.min(Date.parse(other.from) + (now - start), Date.parse(other.to));
  return { from: other.from, to: new Date(to).toISOString(), partial: true };
}
