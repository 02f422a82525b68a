import { addMessages, init, locale } from 'svelte-i18n';
import en from './locales/en.json';
import zh from './locales/zh-CN.json';

export const LOCALES = ['zh-CN', 'en'] as const;
export type Locale = (typeof LOCALES)[number];
const KEY = 'gridplan.locale';

export function setupI18n(): void {
  addMessages('zh-CN', zh);
  addMessages('en', en);
  const saved = typeof localStorage === 'undefined' ? null : localStorage.getItem(KEY);
  const initial: Locale = saved === 'en' ? 'en' : 'zh-CN';
  init({ fallbackLocale: 'zh-CN', initialLocale: initial });
  document.documentElement.lang = initial;
}

export function setLocale(next: Locale): void {
  locale.set(next);
  localStorage.setItem(KEY, next);
  document.documentElement.lang = next;
}

/** A name given in both languages, in the one shown (`$locale` from svelte-i18n). */
export const localName = (n: { zh: string; en: string }, current: string | null | undefined): string => (current === 'en' ? n.en : n.zh);

/**
 * A department's name with the region it serves, where it has one: 公安（麒麟区）. A city's counties each have their own
 * 公安, which a list of all of them (an account's department, a category's departments) tells apart so.
 */
export const departmentName = (
  d: { zh: string; en: string; region?: { name: string; label?: string } | null; regionName?: string | null },
  current: string | null | undefined,
): string => {
  const region = d.region?.label || d.region?.name || d.regionName || null;
  const name = localName(d, current);
  // (a bureau named for its county says it already: 麒麟区公安局, not 麒麟区公安局（麒麟区）)
  if (!region || name.includes(d.region?.name ?? d.regionName ?? region)) return name;
  return current === 'en' ? `${name} (${region})` : `${name}（${region}）`;
};
