/**
 * The per-grid scale of the analyze view (issue #25.12): five classes of equal size — quintiles of
 * the grids with any report — and none, so a few extreme grids never paint the rest one colour.
 */

/** The shade of each class of the per-grid scale: none, then five quintiles. */
export const CLASS_SHADES = [0.04, 0.25, 0.45, 0.65, 0.82, 1];

/** The shade of class `k` (0: none; the last, above every break, is the darkest) when there are `n` breaks. */
export const classShade = (k: number, n: number) => (k > 0 && k === n + 1 ? 1 : CLASS_SHADES[k]!);

/** The legend's words for each class: 0, >0–b1, >b1–b2, …, >bn. */
export const classLabels = (breaks: number[]) => ['0', ...breaks.map((b, i) => `${i === 0 ? '>0' : `>${breaks[i - 1]}`}–${b}`), `>${breaks.at(-1) ?? 0}`];

/** The upper bounds of the first four quintiles of the positive values, rounded to what a legend shows (increasing, distinct). */
export function quantileBreaks(values: number[]): number[] {
  const positive = values.filter((v) => v > 0).sort((a, b) => a - b);
  if (positive.length === 0) return [];
  const round = (v: number) => (v >= 10 ? Math.round(v) : Math.round(v * 10) / 10);
  const out: number[] = [];
  for (const q of [0.2, 0.4, 0.6, 0.8]) {
    const b = round(positive[Math.min(positive.length - 1, Math.floor(q * positive.length))]!);
    if (b > (out.at(-1) ?? 0)) out.push(b);
  }
  return out;
}
