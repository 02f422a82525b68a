/**
 * What a settings change changed, field by field, for the change log: `before` and `after` are the
 * entity's states as the log keeps them (a department, a category, a district's rules — a list of one
 * rule per grid type — the staffing model, the approval steps, a region's escalation contacts).
 * Lists of records are matched by their natural key (grid type, severity, code, step, account), so a
 * rule or a deadline reads as "小区型 上限 25 → 30", not as a new list.
 */
export interface FieldChange {
  field: string;
  /** The record of a list it belongs to: a grid type, a severity, a code; null for the entity's own field. */
  item: string | null;
  /** The record's own names, where it has them (a staff role's 民警, a rule's 小区型). */
  itemZh: string | null;
  itemEn: string | null;
  before: string;
  after: string;
  /** The same in English where they differ (lists of departments or categories by their names). */
  beforeEn: string;
  afterEn: string;
}

/** Names of the codes some fields list (`departments`, `categories`), to show names rather than codes. */
export type CodeNames = Record<string, Map<string, { zh: string; en: string }>>;

/** Bookkeeping, names shown beside the record anyway, and the order in lists: not what a person changed. */
const QUIET = new Set([
  'id',
  'version',
  'sort',
  'own',
  'updatedAt',
  'regionId',
  'fallback',
  'displayName',
  'model',
  'defaults',
  'defaultPerGrid',
  'defaultPoints',
]);
/** What names a record of a list: a rule's grid type, a deadline's severity, a code, an approval step's number, an account, a 考核 measure. */
const KEYS = ['gridType', 'severity', 'code', 'step', 'username', 'role', 'measure'];
const ORDER = [
  'code',
  'zh',
  'en',
  'contact',
  'phone',
  'min',
  'target',
  'max',
  'deadlineHours',
  'deadlines',
  'ackHours',
  'resolveHours',
  'departments',
  'categories',
  'points',
];

type Rec = Record<string, unknown>;
const isRecord = (x: unknown): x is Rec => !!x && typeof x === 'object' && !Array.isArray(x);
const keyOf = (list: unknown[]): string | null => KEYS.find((k) => list.length > 0 && list.every((r) => isRecord(r) && r[k] !== undefined)) ?? null;

function text(x: unknown): string {
  if (x === null || x === undefined) return '';
  if (Array.isArray(x)) return x.map(text).join('、');
  // (a record that names itself: a department's region)
  if (isRecord(x)) return typeof x.name === 'string' ? x.name : JSON.stringify(x);
  return String(x);
}

let codeNames: CodeNames = {};

export function settingsDiff(before: unknown, after: unknown, names: CodeNames = {}): FieldChange[] {
  codeNames = names;
  if (Array.isArray(before) && Array.isArray(after)) return listDiff(before, after, null);
  if (isRecord(before) && isRecord(after)) return recordDiff(before, after, null);
  // a record made: what it was made with (a department's contact and phone), not only that it was made
  if ((before === null || before === undefined) && isRecord(after)) return recordDiff({}, after, null).filter((f) => f.after !== '');
  return [];
}

/** A list of codes as their names, sorted (the order of a set is not a change). */
function named(field: string, list: unknown[], lang: 'zh' | 'en'): string {
  const by = codeNames[field];
  return [...list]
    .map((c) => by?.get(String(c))?.[lang] ?? String(c))
    .sort()
    .join(lang === 'en' ? ', ' : '、');
}

const names = (r: Rec | undefined) => {
  const own = (x: unknown) => (typeof x === 'string' && x !== '' ? x : null);
  // (an account has one name in both languages)
  return { itemZh: own(r?.zh) ?? own(r?.displayName), itemEn: own(r?.en) ?? own(r?.displayName) };
};

function recordDiff(before: Rec, after: Rec, item: string | null, itemNames = { itemZh: null as string | null, itemEn: null as string | null }): FieldChange[] {
  const out: FieldChange[] = [];
  // (the log keeps states as jsonb, which reorders keys: shown in the order the settings screens use)
  const rank = (k: string) => (ORDER.includes(k) ? ORDER.indexOf(k) : ORDER.length);
  const keys = [...new Set([...Object.keys(before), ...Object.keys(after)])]
    .filter((k) => !QUIET.has(k))
    .sort((x, y) => rank(x) - rank(y) || x.localeCompare(y));
  for (const field of keys) {
    const [b, a] = [before[field], after[field]];
    // a list of records on either side (a record made with one, as a category with its deadlines): record by record
    const [bl, al] = [Array.isArray(b) ? b : b == null ? [] : null, Array.isArray(a) ? a : a == null ? [] : null];
    if (bl && al && (keyOf(bl) || keyOf(al))) {
      out.push(...listDiff(bl, al, field));
      continue;
    }
    const shown = (x: unknown, lang: 'zh' | 'en') => (Array.isArray(x) ? named(field, x, lang) : text(x));
    const [bt, at] = [shown(b, 'zh'), shown(a, 'zh')];
    if (bt !== at) out.push({ field, item, ...itemNames, before: bt, after: at, beforeEn: shown(b, 'en'), afterEn: shown(a, 'en') });
  }
  return out;
}

/** Records matched by key; `within` names the list when it is a field of a record (its records' fields are what is shown). */
function listDiff(before: unknown[], after: unknown[], within: string | null): FieldChange[] {
  const key = keyOf(after) ?? keyOf(before);
  if (!key) {
    const [bt, at] = [text(before), text(after)];
    return bt === at ? [] : [{ field: within ?? 'value', item: null, itemZh: null, itemEn: null, before: bt, after: at, beforeEn: bt, afterEn: at }];
  }
  const byKey = (list: unknown[]) => new Map(list.filter(isRecord).map((r) => [String(r[key]), r]));
  const [b, a] = [byKey(before), byKey(after)];
  const out: FieldChange[] = [];
  for (const k of [...new Set([...b.keys(), ...a.keys()])]) {
    const [x, y] = [b.get(k), a.get(k)];
    if (x && y) out.push(...recordDiff(x, y, k, names(y)));
    else {
      const [bt, at] = [x ? '✓' : '', y ? '✓' : ''];
      out.push({ field: within ?? key, item: k, ...names(y ?? x), before: bt, after: at, beforeEn: bt, afterEn: at });
      // a record added says what it was made with (a step's level and roles, a department's contact)
      // (its names are the item's own, shown with every line: not lines of their own)
      if (y) out.push(...recordDiff({}, y, k, names(y)).filter((f) => !KEYS.includes(f.field) && f.after !== '' && f.field !== 'zh' && f.field !== 'en'));
    }
  }
  return out;
}
