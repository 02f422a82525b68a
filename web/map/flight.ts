/** Frames a second below which a flight is a slide show, not motion. */
export const SLOW_FLIGHT = 8;

/** Whether a flight's frames (their times, ms) came slower than `SLOW_FLIGHT` a second: the median gap between them. */
export function slowFlight(stamps: number[]): boolean {
  const gaps = stamps
    .slice(1)
    .map((t, i) => t - stamps[i]!)
    .sort((a, b) => a - b);
  return gaps.length >= 1 && gaps[Math.floor(gaps.length / 2)]! > 1000 / SLOW_FLIGHT;
}
