/**
 * The administrative hierarchy: city (市) → district (区/县) → township (乡镇/街道) → village
 * (村/社区) → grid (网格). A city is optional: a county may stand alone.
 */
export const LEVELS = ['city', 'district', 'township', 'village', 'grid'] as const;
export type Level = (typeof LEVELS)[number];

export function childLevel(level: Level): Level | null {
  return LEVELS[LEVELS.indexOf(level) + 1] ?? null;
}

export function parentLevel(level: Level): Level | null {
  const i = LEVELS.indexOf(level);
  return i > 0 ? LEVELS[i - 1]! : null;
}

// Digits per level segment: 3 for townships and villages, 4 for grids (a village can hold hundreds).
export const SEGMENT_WIDTH: Record<Level, number> = { city: 6, district: 6, township: 3, village: 3, grid: 4 };

/** The code of the `n`-th child (1-based) of a region: `530303` → `530303-001` → `530303-001-002` → `530303-001-002-0007`. */
export function childCode(parentCode: string, level: Level, n: number): string {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`child number must be a positive integer, got ${n}`);
  const width = SEGMENT_WIDTH[level];
  const segment = String(n).padStart(width, '0');
  if (segment.length > width) throw new RangeError(`child number ${n} does not fit ${width} digits at level ${level}`);
  return `${parentCode}-${segment}`;
}

/** The name a new child gets when none is given: `花园社区第7网格`, or `西平街道-3` above grids. */
export function childName(parentName: string, level: Level, n: number): string {
  return level === 'grid' ? `${parentName}第${n}网格` : `${parentName}-${n}`;
}

/** The pattern (for SQL's `~`) a child's own code segment follows at each level. */
export const segmentPattern = (level: Level) => `^[0-9]{${SEGMENT_WIDTH[level]}}$`;

/** Whether `code` follows its parent's code for a region at `level`. */
export function codeFollowsParent(code: string, parentCode: string | null, level: Level): boolean {
  // a city and a district carry their own six-digit codes (530300, and 530303 under it)
  if (level === 'city') return parentCode === null && /^\d{6}$/.test(code);
  if (level === 'district') return /^\d{6}$/.test(code) && (parentCode === null || /^\d{6}$/.test(parentCode));
  if (parentCode === null || !code.startsWith(`${parentCode}-`)) return false;
  const segment = code.slice(parentCode.length + 1);
  return new RegExp(`^\\d{${SEGMENT_WIDTH[level]}}$`).test(segment);
}
