import { GRID_TYPE_NAMES, GRID_TYPES, type GridType } from './grid-types.ts';
import { SEGMENT_WIDTH, type Level } from './hierarchy.ts';
import { chineseNumber } from './address.ts';

/**
 * Values as county files write them, read into ours: grid types in Chinese, severities in words,
 * times in any of the ways Excel and people write them, staff roles by title, and 12-digit
 * 统计用区划代码 turned into our codes.
 */

const text = (v: unknown) => (v === null || v === undefined ? '' : String(v).normalize('NFKC').trim());

const GRID_TYPE_WORDS: [RegExp, GridType][] = [
  [/散居|散户/, 'scattered'],
  [/小区|住宅|楼盘|社区型/, 'residential'],
  [/单位|机关|学校|企业|医院|园区/, 'unit'],
  [/商圈|商业|市场|商贸|街区/, 'commercial'],
  [/农村|村组|村庄|乡村/, 'rural'],
];

/** A grid type from its code (`rural`), Chinese name (`农村型`, `农村网格`) or a word in it; null when none fits. */
export function gridTypeOf(value: unknown): GridType | null {
  const s = text(value).toLowerCase();
  if (!s) return null;
  const byCode = GRID_TYPES.find((t) => t === s || GRID_TYPE_NAMES[t].en.toLowerCase() === s || GRID_TYPE_NAMES[t].zh === s);
  if (byCode) return byCode;
  return GRID_TYPE_WORDS.find(([re]) => re.test(s))?.[1] ?? null;
}

/** Severity 1…4 from a number or the words 一般 / 较大 / 重大 / 特别重大 (and low … critical); null when neither. */
export function severityOf(value: unknown): number | null {
  const s = text(value).toLowerCase();
  if (!s) return null;
  const n = Number(s);
  if (Number.isInteger(n) && n >= 1 && n <= 4) return n;
  if (/特别重大|特急|紧急|critical|urgent|[ⅳ]|iv级/.test(s)) return 4;
  if (/重大|严重|high|serious|[ⅲ]|iii级/.test(s)) return 3;
  if (/较大|较重|中|medium|moderate|[ⅱ]|ii级/.test(s)) return 2;
  if (/一般|轻微|低|普通|low|minor|[ⅰ]|i级/.test(s)) return 1;
  return null;
}

/** Excel's serial day numbers count from 1899-12-30. */
const EXCEL_EPOCH = Date.UTC(1899, 11, 30);

/**
 * A time as county lists write it, China time (UTC+8) unless it names its zone: ISO 8601,
 * `2026/11/3 14:22`, `2026年11月3日14时22分`, `2026-11-03` (midnight), or an Excel serial day
 * number (46329.6). Null when it is none of these.
 */
export function looseTime(value: unknown): Date | null {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value;
  const s = text(value);
  if (!s) return null;
  if (/^\d{5}(\.\d+)?$/.test(s)) {
    const days = Number(s);
    // serial days are local wall-clock time: China time
    return days > 20_000 && days < 80_000 ? new Date(EXCEL_EPOCH + Math.round(days * 86_400_000) - 8 * 3600_000) : null;
  }
  // 2026年11月3日14时22分05秒 → 2026-11-3 14:22:05
  const t = s
    .replace(/[年月]/g, '-')
    .replace(/日/, ' ')
    .replace(/[时分]/g, ':')
    .replace(/[秒:]\s*$/, '')
    .trim();
  const m = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:[T\s]+(\d{1,2}):(\d{1,2})(?::(\d{1,2}(?:\.\d+)?))?)?\s*(Z|[+-]\d{2}:?\d{2})?$/.exec(t);
  if (!m) return null;
  const [, y, mo, d, h = '0', mi = '0', sec = '0', zone] = m;
  const parts = [Number(y), Number(mo), Number(d), Number(h), Number(mi), Number(sec)] as const;
  if (parts[1] < 1 || parts[1] > 12 || parts[2] < 1 || parts[2] > 31 || parts[3] > 23 || parts[4] > 59 || parts[5] >= 60) return null;
  let offsetMin = 8 * 60;
  if (zone === 'Z') offsetMin = 0;
  else if (zone) offsetMin = (zone[0] === '-' ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(-2)));
  const ms = Date.UTC(parts[0], parts[1] - 1, parts[2], parts[3], parts[4], 0) + Math.round(parts[5] * 1000) - offsetMin * 60_000;
  const date = new Date(ms);
  // 2026-02-30 is not a day
  const local = new Date(ms + offsetMin * 60_000);
  return local.getUTCDate() === parts[2] ? date : null;
}

const ROLE_WORDS: [RegExp, string][] = [
  [/网格长|格长|负责人/, 'grid_leader'],
  [/专职/, 'full_time'],
  [/警|民警|辅警/, 'police'],
  [/指导员|包保|挂联/, 'instructor'],
  [/志愿/, 'volunteer'],
  [/兼职|信息员|楼栋长|单元长|协管/, 'part_time'],
  [/网格员/, 'full_time'],
];

/** A staffing role from its code or title (专职网格员, 网格长, 网格警员…) among the configured `codes`. */
export function roleOf(value: unknown, codes: readonly { code: string; zh: string; en: string }[]): string | null {
  const s = text(value);
  if (!s) return null;
  const exact = codes.find((c) => c.code === s.toLowerCase() || c.zh === s || c.en.toLowerCase() === s.toLowerCase());
  if (exact) return exact.code;
  const word = ROLE_WORDS.find(([re]) => re.test(s))?.[1];
  return word && codes.some((c) => c.code === word) ? word : null;
}

/** A category from its code, Chinese or English name, or a Chinese name it contains (`环境卫生问题` → 环境卫生). */
export function categoryOf(value: unknown, categories: readonly { code: string; zh: string; en: string }[]): string | null {
  const s = text(value);
  if (!s) return null;
  const lower = s.toLowerCase();
  const exact = categories.find((c) => c.code === lower || c.zh === s || c.en.toLowerCase() === lower);
  if (exact) return exact.code;
  const within = categories.filter((c) => c.zh.length >= 2 && (s.includes(c.zh) || c.zh.includes(s)));
  return within.length === 1 ? within[0]!.code : null;
}

/** A 12-digit 统计用区划代码 (township `530303101000`, village `530303101201`). */
export const isStatCode = (v: string) => /^\d{12}$/.test(v);

/**
 * Our code for a region a 统计用区划代码 names, when the code fits under its parent's: the
 * district's six digits, then three for the township and three for the village — the very widths
 * of our own segments. Null when the code belongs elsewhere or to another level.
 */
export function codeFromStatCode(stat: string, level: Level, parent: { code: string; statCode: string | null }): string | null {
  if (!isStatCode(stat)) return null;
  if (level === 'township') {
    // (a city without counties keeps its townships' statistics under its 市辖区: 620201… under 嘉峪关市 620200 — the
    // same prefecture, 4 digits, is enough; the outline is checked against the parent's anyway)
    const own = stat.slice(0, 6) === parent.code || (/^\d{4}00$/.test(parent.code) && stat.slice(0, 4) === parent.code.slice(0, 4));
    if (!own || stat.slice(6, 9) === '000' || stat.slice(9) !== '000') return null;
    return `${parent.code}-${stat.slice(6, 9)}`;
  }
  if (level === 'village') {
    const township = parent.statCode ?? `${parent.code.replace('-', '')}000`;
    if (stat.slice(0, 9) !== township.slice(0, 9) || stat.slice(9) === '000') return null;
    return `${parent.code}-${stat.slice(9, 12).padStart(SEGMENT_WIDTH.village, '0')}`;
  }
  return null;
}

/** A phone number as people write it: digits kept, +86 and separators dropped; null when it is not one. */
export function phoneOf(value: unknown): string | null {
  const s = text(value)
    .replace(/[\s\-()]/g, '')
    .replace(/^(\+?86)(?=1\d{10}$)/, '');
  // a mobile (11 digits from 1), a landline with its area code (0…), or a local number without it (7–8 digits, never from 0 or 1)
  return /^(1\d{10}|0\d{9,11}|[2-9]\d{6,7})$/.test(s) ? s : null;
}

/**
 * A household's size as a clerk types it: 3, ３ (full width), 三, 3人, 三口: the number, or null
 * when it is none of these.
 */
export function householdSizeOf(value: string): number | null {
  const t = value
    .normalize('NFKC')
    .trim()
    .replace(/\s*(人|口|名)$/, '');
  if (/^\d+$/.test(t)) return Number(t);
  if (/^[零〇一二两三四五六七八九十]+$/.test(t)) return chineseNumber(t);
  return t === '' ? null : NaN;
}
