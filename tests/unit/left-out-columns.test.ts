import { describe, expect, it } from 'vitest';
import { numericColumns } from '../../server/routes/imports.js';

describe('the left-out workbook’s number columns', () => {
  it('gives back as numbers only columns whose every filled cell is a plain number', () => {
    const rows = [
      { 户数: '12', 面积: '3.5', 电话: '0874123', 编码: '530303101000', 手机: '13800001111', 金额: '1,200', 备注: '' },
      { 户数: '7', 面积: '-2', 电话: '0874555', 编码: '530303102000', 手机: '13800002222', 金额: '300', 备注: '二楼' },
      { 户数: '', 面积: null, 电话: '', 编码: '', 手机: '', 金额: '', 备注: '' },
    ];
    expect([...numericColumns(rows)].sort()).toEqual(['户数', '面积']);
    // one cell of words keeps its column text
    expect(numericColumns([{ 人口: '3' }, { 人口: '三' }]).has('人口')).toBe(false);
    expect(numericColumns([{ 人口: '0' }, { 人口: 4 }]).has('人口')).toBe(true);
  });
});
