import { describe, expect, it } from 'vitest';
import { addressIndex, chineseNumber, normalizeAddress } from '../../server/domain/address.ts';
import { gdalReprojection, gkByMeridian, gkByZone, guessCrs } from '../../server/domain/crs.ts';
import { guessFields, headerRow } from '../../server/domain/import-fields.ts';
import { categoryOf, codeFromStatCode, gridTypeOf, looseTime, phoneOf, roleOf, severityOf, householdSizeOf } from '../../server/domain/import-values.ts';

describe('values as county files write them', () => {
  it('reads grid types, severities, roles, categories and phones in their Chinese words', () => {
    expect(['农村', '农村网格', '住宅小区', '机关单位', '商圈', '散居型', 'rural', 'Residential complex', '山地'].map(gridTypeOf)).toEqual([
      'rural',
      'rural',
      'residential',
      'unit',
      'commercial',
      'scattered',
      'rural',
      'residential',
      null,
    ]);
    expect(['一般', '较大', '重大', '特别重大', '3', '紧急', '五'].map(severityOf)).toEqual([1, 2, 3, 4, 3, 4, null]);
    const roles = [
      { code: 'grid_leader', zh: '网格长', en: 'Grid leader' },
      { code: 'full_time', zh: '专职网格员', en: 'Full-time worker' },
      { code: 'police', zh: '网格警员', en: 'Police officer' },
      { code: 'instructor', zh: '网格指导员', en: 'Instructor' },
      { code: 'part_time', zh: '兼职网格员', en: 'Part-time member' },
    ];
    expect(['网格长', '社区民警', '专职网格员', '网格员', '楼栋长', '包保干部', '巡逻员'].map((r) => roleOf(r, roles))).toEqual([
      'grid_leader',
      'police',
      'full_time',
      'full_time',
      'part_time',
      'instructor',
      null,
    ]);
    const categories = [
      { code: 'sanitation', zh: '环境卫生', en: 'Sanitation' },
      { code: 'traffic', zh: '道路交通', en: 'Road traffic' },
    ];
    expect(['环境卫生', '环境卫生问题', 'Road traffic', 'traffic', '城市管理'].map((c) => categoryOf(c, categories))).toEqual([
      'sanitation',
      'sanitation',
      'traffic',
      'traffic',
      null,
    ]);
    expect(['139 0874 1001', '+86 13908741002', '0874-3123456', '12345'].map(phoneOf)).toEqual(['13908741001', '13908741002', '08743123456', null]);
    // a local number without its area code, never from 1 (a mobile cut short) or 0
    expect(['6231234', '62312345', '1381234', '0123456'].map(phoneOf)).toEqual(['6231234', '62312345', null, null]);
  });

  it('reads times the ways people and Excel write them, in China time', () => {
    const iso = (v: unknown) => looseTime(v)?.toISOString() ?? null;
    expect(iso('2026-11-03 14:22')).toBe('2026-11-03T06:22:00.000Z');
    expect(iso('2026/11/3 9:05:30')).toBe('2026-11-03T01:05:30.000Z');
    expect(iso('2026年11月3日14时22分')).toBe('2026-11-03T06:22:00.000Z');
    expect(iso('2026-11-03')).toBe('2026-11-02T16:00:00.000Z');
    expect(iso('2026-11-03T14:22:00Z')).toBe('2026-11-03T14:22:00.000Z');
    expect(iso('46329.5')).toBe('2026-11-03T04:00:00.000Z'); // Excel's serial day, noon in China
    expect(iso('2026-02-30')).toBeNull();
    expect(iso('昨天下午')).toBeNull();
  });

  it('turns 统计用区划代码 into our codes where they fit under the parent', () => {
    const district = { code: '530303', statCode: null };
    expect(codeFromStatCode('530303101000', 'township', district)).toBe('530303-101');
    expect(codeFromStatCode('530302101000', 'township', district)).toBeNull();
    // a city without counties (嘉峪关市 620200) numbers its towns under its 市辖区 620201: taken, not numbered in file order
    expect(codeFromStatCode('620201102000', 'township', { code: '620200', statCode: null })).toBe('620200-102');
    expect(codeFromStatCode('620301102000', 'township', { code: '620200', statCode: null })).toBeNull();
    expect(codeFromStatCode('530303101201', 'township', district)).toBeNull();
    expect(codeFromStatCode('530303101201', 'village', { code: '530303-101', statCode: null })).toBe('530303-101-201');
    expect(codeFromStatCode('530303102201', 'village', { code: '530303-101', statCode: '530303101000' })).toBeNull();
  });

  it('matches an address however it is written, and says when it fits several', () => {
    expect(chineseNumber('三百零五')).toBe(305);
    expect(chineseNumber('一零一')).toBe(101);
    expect(chineseNumber('十二')).toBe(12);
    const prefixes = ['沾益区'];
    expect(normalizeAddress('沾益区西平街道花园社区三号二幢一单元一零一室', prefixes)).toBe('西平街道花园社区3-2-1-101');
    expect(normalizeAddress('西平街道 花园社区３号2栋1单元101', prefixes)).toBe('西平街道花园社区3-2-1-101');
    const find = addressIndex(['西平街道花园社区3号', '西平街道花园社区4号', '西平街道花园社区5号', '西平街道花园社区五号'], (a) => a, prefixes);
    expect(find('西平街道花园社区三号')).toMatchObject({ how: 'normalized', found: ['西平街道花园社区3号'] });
    expect(find('西平街道花园社区4号')).toMatchObject({ how: 'exact' });
    expect(find('西平街道花园社区5号').how).toBe('exact');
    expect(find('西平街道花园社区伍号').how).toBe('none');
    expect(find('沾益区西平街道花园社区五').how).toBe('ambiguous');
    // a list that leaves the township out (from the newcomer): found where one township has the village, ambiguous where two do
    const towns = addressIndex(['西平街道银湾村23号', '西平街道银湾村24号', '炎方乡竹林村5号', '菱角乡竹林村5号'], (a) => a, prefixes, [
      '西平街道',
      '炎方乡',
      '菱角乡',
    ]);
    expect(towns('银湾村23号')).toMatchObject({ how: 'normalized', found: ['西平街道银湾村23号'] });
    expect(towns('银湾村二十四号')).toMatchObject({ how: 'normalized', found: ['西平街道银湾村24号'] });
    expect(towns('竹林村5号')).toMatchObject({ how: 'ambiguous', found: ['炎方乡竹林村5号', '菱角乡竹林村5号'] });
    expect(towns('23号').how).toBe('none');
    expect(towns('西平街道银湾村25号').how).toBe('none');
    // a flat of a door the region has, its building, unit, room or 附 new: at that door (from a clerk: 42% of a 一标三实 list was left unmatched)
    expect(towns('西平街道银湾村23号5栋1单元301室')).toMatchObject({ how: 'building', found: ['西平街道银湾村23号'] });
    expect(towns('银湾村二十三号附3')).toMatchObject({ how: 'building', found: ['西平街道银湾村23号'] });
    expect(towns('西平街道银湾村26号5栋').how).toBe('none');
    // a village's committee is the village
    expect(towns('西平街道银湾村委会24号')).toMatchObject({ how: 'normalized', found: ['西平街道银湾村24号'] });
    expect(normalizeAddress('西平街道翠湖居委会3号')).toBe('西平街道翠湖社区3');
  });

  it('finds the header of a sheet under a merged title, without reading the whole sheet', () => {
    const rows: unknown[][] = [['沾益区户籍人口登记表'], ['序号', '户主姓名', '地址', '人数']];
    for (let i = 0; i < 200_000; i++) rows.push([String(i + 1), '张三', `某地${i}号`, '3']);
    expect(headerRow(rows)).toBe(1);
    expect(
      headerRow([
        ['a', 'b'],
        ['1', '2'],
      ]),
    ).toBe(0);
  });

  it('guesses which field holds what from Chinese and pinyin names, and 12-digit codes from their values', () => {
    expect(guessFields('boundary', ['XZQMC', 'XZQDM', 'TJDM'])).toEqual({ name: 'XZQMC', code: 'XZQDM', statCode: 'TJDM' });
    expect(guessFields('household', ['序号', '户主', '门牌地址', '家庭人口', '经度', '纬度'])).toEqual({
      lon: '经度',
      lat: '纬度',
      address: '门牌地址',
      size: '家庭人口',
      head: '户主',
    });
    // a household register: who heads each household and a number to reach them
    expect(guessFields('household', ['户主姓名', '家庭住址', '家庭人口', '联系电话'])).toEqual({
      address: '家庭住址',
      size: '家庭人口',
      head: '户主姓名',
      phone: '联系电话',
    });
    expect(guessFields('boundary', ['名称', '编号'], [{ 名称: '西平街道', 编号: '530303001000' }])).toEqual({ name: '名称', statCode: '编号' });
  });

  it('knows the Gauss–Krüger zones of CGCS2000 and guesses a file’s system from its numbers', () => {
    expect(gkByMeridian(105)).toBe(4544);
    expect(gkByZone(35)).toBe(4523);
    expect(guessCrs([103.5, 25.3, 104.2, 25.9])).toBe('EPSG:4326');
    expect(guessCrs([35_400_000, 2_800_000, 35_460_000, 2_860_000])).toBe('EPSG:4523');
    expect(guessCrs([400_000, 2_800_000, 460_000, 2_860_000], [103.8, 25.6])).toBe('EPSG:4544');
    // the same place in the 102°E zone (its prefecture's): eastings near 680 km (from a clerk, whose file without .prj was read 300 km east)
    expect(guessCrs([660_000, 2_820_000, 700_000, 2_860_000], [103.8, 25.6])).toBe(`EPSG:${gkByMeridian(102)}`);
    expect(guessCrs([300_000, 2_820_000, 340_000, 2_860_000], [103.8, 25.6])).toBe(`EPSG:${gkByMeridian(105)}`);
    expect(guessCrs([1, 2, 3, 4])).toBeNull();
    expect(gdalReprojection('EPSG:4544', null)).toEqual(['-t_srs', 'EPSG:4490']);
    expect(gdalReprojection('EPSG:4490', null)).toEqual([]);
    expect(gdalReprojection(null, 'EPSG:4523')).toEqual(['-s_srs', 'EPSG:4523', '-t_srs', 'EPSG:4490']);
    expect(gdalReprojection(null, 'GCJ-02')).toEqual(['-a_srs', 'EPSG:4326']);
  });
});

describe('householdSizeOf', () => {
  it('reads a size however a clerk types it, and nothing else', () => {
    expect(['3', '３', '三', '3人', '三口', ' 12 ', '十二', '两人'].map(householdSizeOf)).toEqual([3, 3, 3, 3, 3, 12, 12, 2]);
    expect(householdSizeOf('')).toBeNull();
    for (const bad of ['3.5', 'abc', '三个人家', '-2']) expect(householdSizeOf(bad)).toBeNaN();
  });
});
