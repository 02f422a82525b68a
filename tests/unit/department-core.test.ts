import { describe, expect, it } from 'vitest';
import { departmentCore } from '../../server/db/settings.ts';

describe("a department's name as lists shorten it", () => {
  it('reads the official long names as the short ones a county list has beside them', () => {
    for (const [official, short] of [
      ['市场监督管理局', '市场监管'],
      ['住房和城乡建设局', '住建'],
      ['县住房城乡建设局', '住建局'],
      ['人力资源和社会保障局', '人社局'],
      ['市消防救援大队', '消防救援'],
      ['公安局', '公安'],
      ['卫生健康委员会', '卫健委'],
      ['文化广电和旅游局', '文旅局'],
    ] as const)
      expect(departmentCore(official), official).toBe(departmentCore(short));
    expect(departmentCore('交通运输局')).not.toBe(departmentCore('住建'));
  });
});

describe("a department's name in a list of a city's departments", () => {
  it('says the region a county’s own department serves, in the language shown', async () => {
    const { departmentName } = await import('../../web/lib/i18n.ts');
    const police = { zh: '公安', en: 'Police' };
    expect(departmentName(police, 'zh-CN')).toBe('公安');
    expect(departmentName({ ...police, region: { name: '麒麟区' } }, 'zh-CN')).toBe('公安（麒麟区）');
    expect(departmentName({ ...police, regionName: '麒麟区' }, 'en')).toBe('Police (麒麟区)');
    expect(departmentName({ ...police, region: null, regionName: null }, 'en')).toBe('Police');
    // a township with its county (names repeat across a city); a bureau named for its region says it once
    expect(departmentName({ zh: '市场监管所', en: 'Market', region: { name: '高溪乡', label: '罗平县·高溪乡' } }, 'zh-CN')).toBe('市场监管所（罗平县·高溪乡）');
    expect(departmentName({ zh: '麒麟区公安局', en: 'Police · 麒麟区', region: { name: '麒麟区', label: '麒麟区' } }, 'zh-CN')).toBe('麒麟区公安局');
  });
});
