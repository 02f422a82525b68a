import type { Random } from './random.ts';

// Syllables common in Yunnan place names; combined they give plausible, clearly synthetic names.
const PLACE_A = [
  '大',
  '小',
  '新',
  '老',
  '上',
  '下',
  '中',
  '东',
  '西',
  '南',
  '北',
  '黄',
  '白',
  '红',
  '青',
  '石',
  '松',
  '竹',
  '龙',
  '凤',
  '金',
  '银',
  '马',
  '牛',
  '清',
  '长',
  '高',
  '平',
];
const PLACE_B = ['坡', '河', '山', '田', '营', '庄', '寨', '冲', '屯', '塘', '坝', '箐', '沟', '林', '桥', '湾', '场', '堡', '哨', '街', '坪', '溪', '水'];
// The Hexi Corridor's oases (酒泉, 张掖, 嘉峪关): 墩, 渠, 滩, 泉 and 堡 where Yunnan has 箐, 冲 and 哨 (as many of each, so a
// county draws the same way whichever it is: 曲靖's names stay as they were).
const GANSU_A = [
  '大',
  '小',
  '新',
  '老',
  '上',
  '下',
  '中',
  '东',
  '西',
  '南',
  '北',
  '黄',
  '白',
  '红',
  '青',
  '沙',
  '柳',
  '榆',
  '三',
  '双',
  '金',
  '银',
  '马',
  '永',
  '清',
  '长',
  '高',
  '丰',
];
const GANSU_B = ['墩', '河', '山', '湖', '营', '庄', '寨', '渠', '屯', '滩', '坝', '泉', '沟', '井', '桥', '湾', '场', '堡', '梁', '台', '口', '园', '水'];
/** Where a county lies, by its code: 62 is 甘肃 (the Hexi cities); the rest are named as 云南's. */
export type Province = 'yunnan' | 'gansu';
export const provinceOf = (districtCode: string): Province => (districtCode.startsWith('62') ? 'gansu' : 'yunnan');
const COMMUNITY = [
  '和谐',
  '幸福',
  '阳光',
  '朝阳',
  '春晖',
  '锦绣',
  '福泰',
  '兴隆',
  '康乐',
  '同心',
  '文昌',
  '明珠',
  '翠湖',
  '学府',
  '滨河',
  '花园',
  '东城',
  '西城',
  '南苑',
  '北苑',
  '紫薇',
  '桂园',
  '玉屏',
  '珠江',
];
const SIDES = ['前', '后', '外', '里'];
const STREETS = ['东路', '西路', '南路', '北路', '中路', '街', '新村', '巷'];
const NUMERALS = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九', '十'];
export const SURNAMES = [
  '张',
  '王',
  '李',
  '赵',
  '刘',
  '陈',
  '杨',
  '黄',
  '周',
  '吴',
  '徐',
  '孙',
  '朱',
  '马',
  '胡',
  '郭',
  '何',
  '罗',
  '高',
  '林',
  '蒋',
  '沈',
  '韩',
  '唐',
  '冯',
  '邓',
  '许',
  '曹',
  '彭',
  '曾',
];
export const GIVEN = [
  '伟',
  '芳',
  '娜',
  '敏',
  '静',
  '丽',
  '强',
  '磊',
  '军',
  '洋',
  '勇',
  '艳',
  '杰',
  '娟',
  '涛',
  '明',
  '超',
  '秀英',
  '霞',
  '平',
  '刚',
  '桂英',
  '华',
  '建国',
  '红梅',
  '志强',
  '海燕',
  '春花',
  '文',
  '兰',
];

/** Unique names from a generator: retries, then numbers the rare repeat. */
export class NamePool {
  private readonly used = new Set<string>();
  private readonly a: string[];
  private readonly b: string[];
  constructor(
    private readonly random: Random,
    province: Province = 'yunnan',
  ) {
    [this.a, this.b] = province === 'gansu' ? [GANSU_A, GANSU_B] : [PLACE_A, PLACE_B];
  }
  /** 石田村, then 上石田村 / 新石田村 as real neighbours are named, then 石田第二村. */
  village(): string {
    const stem = () => `${this.random.pick(this.a)}${this.random.pick(this.b)}`;
    return this.unique([() => `${stem()}村`, () => `${this.random.pick(SIDES)}${stem()}村`], (n) => `${stem()}第${NUMERALS[n]}村`);
  }
  /** 翠湖社区, then road communities as towns name them (翠湖东路社区), then 翠湖第二社区 — never a digit inside 社区. */
  community(): string {
    const stem = () => this.random.pick(COMMUNITY);
    return this.unique([() => `${stem()}社区`, () => `${stem()}${this.random.pick(STREETS)}社区`], (n) => `${stem()}第${NUMERALS[n]}社区`);
  }
  /** 龙华街道: a street office of a county seat. */
  street(): string {
    const stem = () => `${this.random.pick(this.a)}${this.random.pick(this.b)}`;
    return this.unique([() => `${stem()}街道`], (n) => `${stem()}第${NUMERALS[n]}街道`);
  }
  /** 白水镇 or 德泽乡. */
  town(kind: '镇' | '乡'): string {
    const stem = () => `${this.random.pick(this.a)}${this.random.pick(this.b)}`;
    return this.unique([() => `${stem()}${kind}`], (n) => `${stem()}第${NUMERALS[n]}${kind}`);
  }
  private unique(makers: (() => string)[], numbered: (n: number) => string): string {
    for (const make of makers)
      for (let i = 0; i < 40; i++) {
        const name = make();
        if (!this.used.has(name)) {
          this.used.add(name);
          return name;
        }
      }
    for (let n = 2; ; n++) {
      const name = numbered(Math.min(n, NUMERALS.length - 1));
      if (!this.used.has(name) || n >= NUMERALS.length - 1) {
        this.used.add(name);
        return name;
      }
    }
  }
}

export function personName(random: Random): string {
  return `${random.pick(SURNAMES)}${random.pick(GIVEN)}`;
}

/** A mobile number with its middle digits masked, as rosters publish them. */
export function maskedPhone(random: Random): string {
  return `1${random.pick(['33', '38', '39', '58', '87', '89'])}****${String(random.int(0, 9999)).padStart(4, '0')}`;
}
