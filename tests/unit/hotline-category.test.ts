import { describe, expect, it } from 'vitest';
import { hotlineCategory } from '../../server/db/hotline.ts';

describe("a hotline order's category", () => {
  const known = [
    { code: 'hazard', zh: '安全隐患', en: 'Safety hazard' },
    { code: 'dispute', zh: '矛盾纠纷', en: 'Dispute' },
    { code: 'fire', zh: '消防', en: 'Fire safety' },
    { code: 'traffic', zh: '道路交通', en: 'Road traffic' },
    { code: 'other', zh: '其他', en: 'Other' },
    // made by the county in 设置 › 事件类别 and routed to 市场监管
    { code: 'cat_8', zh: '占道经营', en: '占道经营' },
  ];
  it("takes the county's own categories by name before the built-in words (占道 would be traffic)", () => {
    expect(hotlineCategory('占道经营', '有人在路口摆摊', known)).toBe('cat_8');
    expect(hotlineCategory('城市管理-占道经营', '', known)).toBe('cat_8');
    expect(hotlineCategory('cat_8', '', known)).toBe('cat_8');
    expect(hotlineCategory('Road Traffic', '', known)).toBe('traffic');
    // the caller's words name it when the hotline's category does not
    expect(hotlineCategory('市容', '小区门口有人占道经营卖菜', known)).toBe('cat_8');
  });
  it("reads the hotline's category before what the caller said, and falls back to the words, then 其他", () => {
    expect(hotlineCategory('火灾', '邻居吵架后起火', known)).toBe('fire');
    expect(hotlineCategory('咨询', '路口红绿灯坏了', known)).toBe('traffic');
    expect(hotlineCategory('咨询', '其他问题想问一下', known)).toBe('other');
    expect(hotlineCategory('咨询', '政策咨询', known)).toBe('other');
  });
});
