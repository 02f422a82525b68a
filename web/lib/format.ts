import { locale } from 'svelte-i18n';
import { get } from 'svelte/store';

export const formatNumber = (n: number, digits = 0) => new Intl.NumberFormat(get(locale) ?? 'zh-CN', { maximumFractionDigits: digits }).format(n);

export const km2 = (m2: number) => formatNumber(m2 / 1e6, m2 < 1e7 ? 2 : 1);

const yearInChina = new Intl.DateTimeFormat('en', { year: 'numeric', timeZone: 'Asia/Shanghai' });

/**
 * A moment as people read it: month, day, hour and minute in their language (4 Dec, 18:54; 12/4 18:54); the year too when it
 * is not this year's. China time, wherever the browser is, as the change log and deadlines are.
 */
export const formatDateTime = (iso: string, lang: string) => {
  const at = new Date(iso);
  const year = yearInChina.format(at) !== yearInChina.format(new Date()) ? { year: 'numeric' as const } : {};
  // (English: 4 Dec, 18:54 — a day and month no reader takes the other way round; Chinese: 12/4 18:54)
  const en = lang.startsWith('en');
  return new Intl.DateTimeFormat(en ? 'en-GB' : lang, {
    ...year,
    month: en ? 'short' : 'numeric',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    hour12: false,
    timeZone: 'Asia/Shanghai',
  }).format(at);
};

/** Month ticks of a time axis (seconds) in the reader's language — 5月 / May — with the year at the first tick and where it turns; China time. */
export function monthTicks(splits: number[], lang: string): string[] {
  const month = new Intl.DateTimeFormat(lang, { month: 'short', timeZone: 'Asia/Shanghai' });
  const yearMonth = new Intl.DateTimeFormat(lang, { year: 'numeric', month: 'short', timeZone: 'Asia/Shanghai' });
  const yearOf = new Intl.DateTimeFormat('en', { year: 'numeric', timeZone: 'Asia/Shanghai' });
  let year = '';
  return splits.map((s) => {
    const at = new Date(s * 1000);
    const y = yearOf.format(at);
    const text = y !== year ? yearMonth.format(at) : month.format(at);
    year = y;
    return text;
  });
}

/**
 * How much of a month bucket (`YYYY-MM-DD`, its first day) has passed at `now`, China time: 1 for a
 * month over, 0 for one not begun, between for the month under way (whose count is not a month's yet).
 */
export function monthShare(t: string, now: Date): number {
  const start = Date.parse(`${t.slice(0, 7)}-01T00:00:00+08:00`);
  const [y, m] = t.slice(0, 7).split('-').map(Number) as [number, number];
  const end = Date.parse(`${m === 12 ? y + 1 : y}-${String(m === 12 ? 1 : m + 1).padStart(2, '0')}-01T00:00:00+08:00`);
  return Math.min(1, Math.max(0, (now.getTime() - start) / (end - start)));
}

/** The peoples whose autonomous counties (and banners, prefectures) are named for them: 肃北蒙古族自治县, 寻甸回族彝族自治县. */
const PEOPLES =
  '蒙古|哈萨克|回|彝|藏|苗|壮|瑶|土家|侗|布依|白|哈尼|傣|傈僳|佤|拉祜|纳西|景颇|布朗|普米|怒|独龙|裕固|保安|东乡|撒拉|土|满|朝鲜|锡伯|达斡尔|鄂温克|鄂伦春|' +
  '仫佬|毛南|仡佬|水|畲|黎|羌|门巴|珞巴|基诺|阿昌|德昂|柯尔克孜|塔吉克|乌孜别克|维吾尔|俄罗斯|京|赫哲|高山|塔塔尔';
const AUTONOMOUS = new RegExp(`^(.+?)(?:(?:${PEOPLES})族)+自治(县|旗|州)`);

/**
 * A place's name as it is said where room is short, by the usual short form of an autonomous county (肃北蒙古族自治县 → 肃北县,
 * 阿克塞哈萨克族自治县公安局 → 阿克塞县公安局); other names as they are.
 */
export const shortPlace = (name: string): string => name.replace(AUTONOMOUS, '$1$2');
