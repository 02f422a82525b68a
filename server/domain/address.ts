import { INVISIBLE } from './text.ts';
/**
 * Addresses as 公安 lists and 一标三实 write them, brought to one form so that the same door matches
 * however it was typed: full-width characters, Chinese numerals, the words for building, unit and
 * room, spaces and punctuation, and the county written in front or not.
 *
 *   "沾益区西平街道花园社区三号二幢一单元一零一室" ─┐
 *   "西平街道 花园社区3号2栋1单元101"              ─┴─► "西平街道花园社区3-2-1-101"
 */

const DIGITS: Record<string, number> = { 零: 0, 〇: 0, 一: 1, 二: 2, 两: 2, 三: 3, 四: 4, 五: 5, 六: 6, 七: 7, 八: 8, 九: 9 };
const UNITS: Record<string, number> = { 十: 10, 百: 100, 千: 1000 };

/** A run of Chinese numerals as a number: positional (三百零五 → 305) or digit by digit (一零一 → 101). */
export function chineseNumber(s: string): number | null {
  if (s.length === 0 || ![...s].every((c) => c in DIGITS || c in UNITS)) return null;
  if (![...s].some((c) => c in UNITS)) return Number([...s].map((c) => DIGITS[c]).join(''));
  let total = 0;
  let digit = 0;
  for (const c of s) {
    if (c in DIGITS) digit = DIGITS[c]!;
    else {
      total += (digit || 1) * UNITS[c]!;
      digit = 0;
    }
  }
  return total + digit;
}

/** Words that end a number in an address (号, 栋, 单元, 室…), each a separator once normalised. */
const MARKERS = /(号楼|单元|号|栋|幢|座|楼|室|户|房|门)/g;

/**
 * The one form of an address: NFKC (full-width to half-width), Chinese numerals to digits, the
 * building/unit/room words to `-`, no spaces (nor invisible ones) or punctuation, and without any of `prefixes` (the
 * province, city and county names) at its start.
 */
export function normalizeAddress(raw: string, prefixes: readonly string[] = []): string {
  // (what shows nothing is nothing: 测试路\u200b1号 is 测试路1号)
  let s = raw.normalize('NFKC').replace(INVISIBLE, '').replace(/\s+/g, '');
  for (let again = true; again;) {
    again = false;
    for (const p of prefixes) {
      if (p && s.startsWith(p)) {
        s = s.slice(p.length);
        again = true;
      }
    }
  }
  // (a village's committee is where the village is: 中哨村委会49号 is 中哨村49号; 居委会 a community's)
  s = s.replace(/村民委员会|村委会/g, '村').replace(/居民委员会|居委会/g, '社区');
  s = s.replace(/[零〇一二两三四五六七八九十百千]+(?=号楼|单元|号|栋|幢|座|楼|室|户|房|门|$|-)/g, (m) => String(chineseNumber(m) ?? m));
  s = s.replace(MARKERS, '-');
  s = s.replace(/[()（）【】[\]·.,，、。:：;；'"“”‘’#]/g, '').replace(/[-—–_/\\]+/g, '-');
  return s.replace(/^-+|-+$/g, '');
}

/**
 * The door of an address in its one form — the place name and its first number (西平街道花园社区3 of
 * 西平街道花园社区3-2-1-101): where the building stands. Null without a place name before the number.
 */
export function doorOf(normal: string): string | null {
  const m = /^(.*?\p{Script=Han}\d+)(?:-|$)/u.exec(normal);
  return m ? m[1]! : null;
}

export interface AddressMatch<T> {
  /**
   * `exact` as written, `normalized` after `normalizeAddress`; `ambiguous` when several places share the form; `building`
   * when only its door is known (69号5栋1单元301 where 69号 or another flat of it is): `found` are the places at that door.
   */
  how: 'exact' | 'normalized' | 'ambiguous' | 'building' | 'none';
  found: T[];
}

/**
 * Looks addresses up among known places (households, address points): exact first, then in their
 * normal form, then — for a list that leaves the township out (银湾村23号 for 西平街道银湾村23号) —
 * in their normal form without one of `townships` in front: found when one place fits, ambiguous when
 * villages of two townships share the name. Build once, look up many.
 */
export function addressIndex<T>(places: readonly T[], addressOf: (p: T) => string, prefixes: readonly string[] = [], townships: readonly string[] = []) {
  const exact = new Map<string, T[]>();
  const normal = new Map<string, T[]>();
  const short = new Map<string, T[]>();
  const doors = new Map<string, T[]>();
  const shortDoors = new Map<string, T[]>();
  // the longest first: 西平街道 before 西平
  const names = [...new Set(townships.filter(Boolean))].sort((a, b) => b.length - a.length);
  for (const p of places) {
    const a = addressOf(p);
    if (!a) continue;
    exact.set(a, [...(exact.get(a) ?? []), p]);
    const n = normalizeAddress(a, prefixes);
    normal.set(n, [...(normal.get(n) ?? []), p]);
    const d = doorOf(n);
    if (d) doors.set(d, [...(doors.get(d) ?? []), p]);
    const t = names.find((name) => n.startsWith(name) && n.length > name.length);
    if (t) {
      const rest = n.slice(t.length);
      short.set(rest, [...(short.get(rest) ?? []), p]);
      const sd = doorOf(rest);
      if (sd) shortDoors.set(sd, [...(shortDoors.get(sd) ?? []), p]);
    }
  }
  return (address: string): AddressMatch<T> => {
    const e = exact.get(address.trim());
    if (e) return { how: e.length === 1 ? 'exact' : 'ambiguous', found: e };
    const q = normalizeAddress(address, prefixes);
    const n = normal.get(q);
    if (n) return { how: n.length === 1 ? 'normalized' : 'ambiguous', found: n };
    // (a number alone, 23, names no place: a village or street name must come before it)
    const s = /^\P{Script=Han}*$/u.test(q) ? undefined : short.get(q);
    if (s) return { how: s.length === 1 ? 'normalized' : 'ambiguous', found: s };
    // a flat of a door we know (楼栋、单元、室, 附3): at that door
    const d = doorOf(q);
    const at = d && d !== q ? (doors.get(d) ?? shortDoors.get(d)) : undefined;
    if (at) return { how: 'building', found: at };
    return { how: 'none', found: [] };
  };
}
