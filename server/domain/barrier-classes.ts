/**
 * Classes of barrier line a county's files carry, and how auto-split treats each: `never` — a grid
 * does not cross it (main roads, rivers, railways); `prefer` — grids follow it where the pieces it
 * cuts hold enough households for a grid, and cross it where they do not (lanes, ditches, ridges);
 * `ignore` — not used.
 */
export const BARRIER_CLASSES = ['main_road', 'road', 'lane', 'river', 'ditch', 'railway', 'ridge', 'other'] as const;
export type BarrierClass = (typeof BARRIER_CLASSES)[number];

export const BARRIER_PREFERENCES = ['never', 'prefer', 'ignore'] as const;
export type BarrierPreference = (typeof BARRIER_PREFERENCES)[number];

export const DEFAULT_BARRIER_PREFERENCE: Record<BarrierClass, BarrierPreference> = {
  main_road: 'never',
  river: 'never',
  railway: 'never',
  road: 'prefer',
  lane: 'prefer',
  ditch: 'prefer',
  ridge: 'prefer',
  other: 'prefer',
};

/** Words in a class field (道路等级, 类型, fclass…) and the class each names; the first that matches wins. */
const WORDS: [RegExp, BarrierClass][] = [
  [/铁路|railway|rail/i, 'railway'],
  [/高速|国道|省道|主干|干道|快速路|motorway|trunk|primary|highway|expressway|main/i, 'main_road'],
  [/巷|胡同|小路|便道|步道|机耕|村道|田间|lane|alley|path|footway|track|service/i, 'lane'],
  [/河道|水道|航道/, 'river'],
  [/渠道|沟道/, 'ditch'],
  [/(路|街|道)$/, 'road'], // 河滨路 is a road
  [/河|江|溪|水系|river|stream|canal/i, 'river'],
  [/沟|渠|ditch|drain/i, 'ditch'],
  [/山脊|分水岭|ridge/i, 'ridge'],
  [/路|道|街|公路|县道|乡道|road|street|secondary|tertiary|residential/i, 'road'],
];

/** The class a file's value names (a class's own name, or words such as 国道, 小巷, 河流); `other` when none fits. */
export function barrierClassOf(value: unknown): BarrierClass {
  const text = String(value ?? '')
    .normalize('NFKC')
    .trim();
  if ((BARRIER_CLASSES as readonly string[]).includes(text)) return text as BarrierClass;
  for (const [re, cls] of WORDS) if (re.test(text)) return cls;
  return 'other';
}
