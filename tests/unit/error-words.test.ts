import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { IntlMessageFormat } from 'intl-messageformat';
import { describe, expect, it } from 'vitest';

/**
 * Every refusal the server can give has words in both languages of the web app (`errors.<code>`):
 * without them the page shows the server's English message inside the Chinese interface.
 */
const root = join(import.meta.dirname, '..', '..');
const sources = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));
const codes = new Set(sources(join(root, 'server')).flatMap((f) => [...readFileSync(f, 'utf8').matchAll(/InputError\(\s*'([a-z_]+)'/g)].map((m) => m[1]!)));
const locale = (name: string) => JSON.parse(readFileSync(join(root, 'web', 'lib', 'locales', name), 'utf8')) as { errors: Record<string, unknown> };

describe('error words', () => {
  it('finds the codes the server throws', () => {
    expect(codes.size).toBeGreaterThan(150);
    expect(codes).toContain('outside_grid');
  });
  for (const [name, lang] of [
    ['zh-CN.json', 'zh-CN'],
    ['en.json', 'en'],
  ] as const) {
    it(`has words in ${name} for every code, and they format`, () => {
      const errors = locale(name).errors;
      expect([...codes].filter((c) => typeof errors[c] !== 'string')).toEqual([]);
      for (const c of codes) expect(() => new IntlMessageFormat(errors[c] as string, lang)).not.toThrow();
    });
  }
  it('never shows the English server message in the Chinese words', () => {
    const zh = locale('zh-CN.json').errors;
    expect([...codes].filter((c) => String(zh[c]).includes('{message}'))).toEqual([]);
  });
});
