/**
 * What an imported layer is, and which of its fields holds what: the roles each kind of layer
 * needs, and guesses from the field names (and a few values) a person then confirms.
 */
import type { Capability } from './roles.ts';

export const IMPORT_KINDS = ['boundary', 'grid', 'household', 'incident', 'staff', 'barrier', 'department'] as const;
export type ImportKind = (typeof IMPORT_KINDS)[number];

/** Who may import each kind of layer (the wizard offers only these). */
export const KIND_CAPABILITY: Record<ImportKind, Capability> = {
  boundary: 'plan:write',
  grid: 'plan:write',
  staff: 'plan:write',
  household: 'households:write',
  incident: 'incidents:import',
  barrier: 'plan:write',
  department: 'users:admin',
};

export const FIELD_ROLES = [
  'name',
  'code',
  'statCode',
  'gridType',
  'lon',
  'lat',
  'address',
  'size',
  'head',
  'person',
  'phone',
  'role',
  'grid',
  'category',
  'severity',
  'time',
  'description',
  'barrierClass',
  'nameEn',
  'contact',
] as const;
export type FieldRole = (typeof FIELD_ROLES)[number];

/** The roles each kind reads; `required` ones must be mapped (a location is lon+lat, or an address where it may be matched). */
export const KIND_ROLES: Record<ImportKind, { roles: FieldRole[]; required: FieldRole[] }> = {
  boundary: { roles: ['name', 'code', 'statCode'], required: ['name'] },
  grid: { roles: ['name', 'code', 'statCode', 'gridType'], required: [] },
  household: { roles: ['lon', 'lat', 'address', 'size', 'head', 'phone'], required: [] },
  incident: { roles: ['lon', 'lat', 'address', 'category', 'severity', 'time', 'description'], required: ['category'] },
  staff: { roles: ['person', 'phone', 'role', 'grid'], required: ['person', 'grid'] },
  barrier: { roles: ['name', 'barrierClass'], required: [] },
  // a county's departments (职能部门) for the command centre: matched to those there by code, else by name
  department: { roles: ['name', 'code', 'nameEn', 'contact', 'phone'], required: ['name'] },
};

/** Names a field of each role goes by in county files (compared lower-case, without spaces or punctuation). */
const ALIASES: Record<FieldRole, string[]> = {
  name: [
    'name',
    'mc',
    '名称',
    '部门名称',
    '单位名称',
    '部门',
    '单位',
    '名字',
    '区划名称',
    'xzqmc',
    'xzmc',
    'cjmc',
    '村名',
    '社区名称',
    '乡镇名称',
    '网格名称',
    'wgmc',
    'dlmc',
  ],
  code: ['code', 'dm', 'bm', '代码', '编码', '区划代码', 'xzqdm', 'xzdm', 'cjdm', '网格编码', 'wgbm', 'id'],
  statCode: ['statcode', '统计用区划代码', '统计代码', 'tjdm', '行政区划代码'],
  gridType: ['gridtype', 'type', '类型', '网格类型', 'wglx'],
  lon: ['lon', 'lng', 'long', 'longitude', 'x', '经度', 'jd', 'point_x'],
  lat: ['lat', 'latitude', 'y', '纬度', 'wd', 'point_y'],
  address: [
    'address',
    'addr',
    '地址',
    '住址',
    '门牌地址',
    '详细地址',
    '标准地址',
    '户籍地址',
    '居住地址',
    '事发地点',
    '事发地址',
    '发生地点',
    '事件地点',
    '地点',
    '位置',
    'dz',
  ],
  size: ['size', 'persons', '人数', '人口', '户人数', '家庭人口', '人口数', 'rks'],
  head: ['head', 'householder', '户主姓名', '户主', '户主名', '户主名称', 'hzxm', 'hzmc', '姓名', 'name', 'xm'],
  person: ['person', 'name', '姓名', '人员姓名', '网格员', 'xm'],
  phone: ['phone', 'tel', 'mobile', '电话', '手机', '联系电话', '手机号', 'lxdh'],
  role: ['role', '职务', '角色', '岗位', '身份', '类别'],
  grid: ['grid', '网格', '所属网格', '网格编码', '网格名称', 'wgbm', 'wgmc'],
  category: ['category', 'type', '类别', '事件类别', '事件类型', '类型', 'sjlx'],
  severity: ['severity', 'level', '等级', '紧急程度', '严重程度', '级别'],
  time: ['time', 'date', 'reportedat', 'reported_at', '时间', '上报时间', '日期', '发生时间', 'sbsj'],
  description: ['description', 'desc', 'content', '描述', '内容', '情况描述', '事件描述', '诉求内容'],
  nameEn: ['en', 'nameen', 'english', '英文名称', '英文名'],
  contact: ['contact', '联系人', '负责人', '联络员', '对接人', 'lxr'],
  barrierClass: ['class', 'fclass', 'kind', 'highway', 'waterway', 'railway', '等级', '道路等级', '类型', '类别', '种类', 'dldj', 'lx'],
};

const key = (s: string) =>
  s
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[\s_\-()（）:：]/g, '');

/**
 * The likeliest field for each role of a kind, by name; a field is given to one role at most. A
 * field whose sample values are 12-digit numbers is the 统计用区划代码 whatever its name.
 */
export function guessFields(kind: ImportKind, fields: string[], samples: Record<string, unknown>[] = []): Partial<Record<FieldRole, string>> {
  const taken = new Set<string>();
  const out: Partial<Record<FieldRole, string>> = {};
  const twelveDigits = (f: string) => samples.length > 0 && samples.every((r) => /^\d{12}$/.test(String(r[f] ?? '').trim()));
  if (KIND_ROLES[kind].roles.includes('statCode')) {
    const f = fields.find(twelveDigits);
    if (f) {
      out.statCode = f;
      taken.add(f);
    }
  }
  for (const role of KIND_ROLES[kind].roles) {
    if (out[role]) continue;
    const wanted = ALIASES[role].map(key);
    const f =
      wanted.map((w) => fields.find((x) => !taken.has(x) && key(x) === w)).find(Boolean) ??
      fields.find((x) => !taken.has(x) && wanted.some((w) => w.length > 1 && key(x).includes(w)));
    if (f) {
      out[role] = f;
      taken.add(f);
    }
  }
  return out;
}

/**
 * The header row of a sheet read without one (GDAL's XLSX with HEADERS=DISABLE): the first of the
 * leading rows whose non-empty cells are all text, distinct and fill most columns — a row of merged
 * group headings above it fills only a few.
 */
export function headerRow(rows: unknown[][]): number {
  const head = rows.slice(0, 10);
  const width = head.reduce((w, r) => Math.max(w, r.length), 0);
  for (let i = 0; i < head.length; i++) {
    const cells = head[i]!.map((c) => (c === null || c === undefined ? '' : String(c).trim()));
    const filled = cells.filter(Boolean);
    const text = filled.every((c) => Number.isNaN(Number(c)));
    if (filled.length >= Math.max(1, Math.ceil(0.6 * width)) && text && new Set(filled).size === filled.length) return i;
  }
  return 0;
}
