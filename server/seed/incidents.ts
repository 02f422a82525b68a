import type { Position } from '../domain/geojson-input.ts';
import type { IncidentInput } from '../domain/incident-input.ts';
import type { IncidentStatus } from '../domain/incidents.ts';
import type { LocalFrame } from '../domain/local-frame.ts';
import type { Random } from './random.ts';
import type { Province } from './names.ts';

/**
 * Two years of demo incidents: where people live (towns dense), along the roads between township
 * seats (traffic), with seasons (fire risk in Yunnan's dry season, January–April), a weekly rhythm,
 * a few hotspots emerging in the last four months, and the loop's timings (most closed in days,
 * a few stuck and overdue). Deterministic for a `Random`.
 */
export interface GeneratedIncident extends Omit<IncidentInput, 'reporterId'> {
  status: IncidentStatus;
  department: string;
  dispatchedAt: Date | null;
  resolvedAt: Date | null;
  closedAt: Date | null;
  feedback: string | null;
}

interface CategoryModel {
  code: string;
  share: number;
  /** The Chinese name of the department the seed dispatches the category to (its first in category_department; else 公安). */
  department: string;
  /** Where one of its texts goes elsewhere than the category's department. */
  textDepartment?: Record<string, string>;
  /** Relative rate per month, January first. */
  season: number[];
  weekend: number;
  /** Median hours from dispatch to resolution. */
  resolveHours: number;
  texts: string[];
  /** A text said otherwise in 甘肃's oases. */
  gansu?: Record<string, string>;
}

const FLAT = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
const MODELS: CategoryModel[] = [
  {
    code: 'hazard',
    share: 0.2,
    department: '住建',
    season: [1, 1, 1, 1, 1.1, 1.4, 1.6, 1.5, 1.2, 1, 1, 1],
    weekend: 0.8,
    resolveHours: 36,
    texts: ['房屋墙体开裂', '电线私拉乱接', '山体滑坡隐患', '燃气管道老化', '危旧房屋'],
    // (the Hexi Corridor has no slopes to slide: its sand drifts over roads and into canals)
    gansu: { 山体滑坡隐患: '风沙掩埋道路' },
  },
  {
    code: 'dispute',
    share: 0.2,
    department: '司法调解',
    season: [1.4, 1.5, 1, 0.9, 0.9, 0.9, 0.9, 0.9, 1, 1, 1, 1.2],
    weekend: 1.2,
    resolveHours: 72,
    texts: ['邻里纠纷', '土地承包纠纷', '婚姻家庭纠纷', '劳资纠纷', '宅基地纠纷'],
  },
  {
    code: 'fire',
    share: 0.08,
    department: '消防救援',
    season: [2.6, 3, 2.8, 2.2, 1, 0.5, 0.4, 0.4, 0.5, 0.7, 1, 1.6],
    weekend: 1,
    resolveHours: 6,
    texts: ['野外用火', '秸秆焚烧', '消防通道堵塞', '灭火器过期', '电动车违规充电'],
  },
  {
    code: 'public_order',
    share: 0.12,
    department: '公安',
    season: FLAT,
    weekend: 1.5,
    resolveHours: 12,
    texts: ['聚众喧哗', '可疑人员', '盗窃报案', '赌博线索'],
  },
  {
    code: 'sanitation',
    share: 0.2,
    department: '生态环境',
    season: [1, 1, 1, 1, 1.2, 1.3, 1.3, 1.2, 1, 1, 1, 1],
    weekend: 0.9,
    resolveHours: 24,
    texts: ['垃圾堆放', '污水横流', '河道漂浮物', '畜禽粪污'],
  },
  {
    code: 'traffic',
    share: 0.12,
    department: '公安',
    season: [1.2, 1.4, 1, 1, 1, 1, 1.1, 1.1, 1, 1.3, 1, 1.1],
    weekend: 1.3,
    resolveHours: 8,
    texts: ['道路积水', '交通标志损坏', '车辆乱停', '路面塌陷'],
  },
  {
    code: 'other',
    share: 0.08,
    // (as the dispatches are routed: a broken lamp or facility to 住建, a question of law to the 司法所)
    department: '住建',
    textDepartment: { 法律咨询: '司法调解' },
    season: FLAT,
    weekend: 1,
    resolveHours: 48,
    texts: ['法律咨询', '路灯损坏', '公共设施损坏'],
  },
];

const DAY = 86_400_000;
const HOUR = 3_600_000;

export function generateIncidents(options: {
  count: number;
  households: readonly { lon: number; lat: number }[];
  roads: readonly [Position, Position][];
  frame: LocalFrame;
  now: Date;
  random: Random;
  province?: Province;
}): GeneratedIncident[] {
  const { count, households, roads, frame, now, random } = options;
  const gansu = options.province === 'gansu';
  if (households.length === 0) return [];
  const start = now.getTime() - 730 * DAY;
  const cumulative: number[] = [];
  MODELS.reduce((s, m) => (cumulative.push(s + m.share), s + m.share), 0);
  // Emerging hotspots: four places where incidents build up over the last 120 days.
  const hotspots = Array.from({ length: 4 }, () => households[random.int(0, households.length - 1)]!);
  const near = (p: { lon: number; lat: number }, metres: number): Position => {
    const [x, y] = frame.toXY([p.lon, p.lat]);
    return frame.toLonLat([x + random.normal() * metres, y + random.normal() * metres]);
  };
  const out: GeneratedIncident[] = [];
  const emerging = Math.round(count * 0.03);
  while (out.length < count) {
    const r = random.next();
    const model = MODELS[cumulative.findIndex((c) => r <= c)] ?? MODELS[MODELS.length - 1]!;
    let at: number;
    let where: Position;
    if (out.length < emerging) {
      // Denser towards today: the time is the later of two draws within the window.
      at = now.getTime() - 120 * DAY * (1 - Math.max(random.next(), random.next()));
      where = near(hotspots[out.length % hotspots.length]!, 250);
    } else {
      // Season and weekday by rejection: draw a day, keep it with its relative rate.
      for (;;) {
        at = start + random.next() * 730 * DAY;
        const d = new Date(at + 8 * HOUR); // China Standard Time
        const weekend = d.getUTCDay() === 0 || d.getUTCDay() === 6 ? model.weekend : 1;
        if (random.next() * 4.5 < model.season[d.getUTCMonth()]! * weekend) break;
      }
      // Daytime mostly (07:00–21:00 local), public order also at night.
      const hour = model.code === 'public_order' && random.next() < 0.4 ? 21 + random.next() * 6 : 7 + random.next() * 14;
      at = Math.floor(at / DAY) * DAY - 8 * HOUR + hour * HOUR;
      if (at > now.getTime()) at = now.getTime() - random.next() * 6 * HOUR;
      if (model.code === 'traffic' && roads.length > 0 && random.next() < 0.7) {
        const [a, b] = roads[random.int(0, roads.length - 1)]!;
        const t = random.next();
        where = near({ lon: a[0] + (b[0] - a[0]) * t, lat: a[1] + (b[1] - a[1]) * t }, 60);
      } else {
        where = near(households[random.int(0, households.length - 1)]!, 40);
      }
    }
    out.push(loop(model, where, at, now.getTime(), random, gansu));
  }
  return out;
}

/** The loop's steps for one incident, as far as they have happened by `now`. */
function loop(model: CategoryModel, [lon, lat]: Position, reported: number, now: number, random: Random, gansu = false): GeneratedIncident {
  const severityRoll = random.next();
  const severity = severityRoll < 0.45 ? 1 : severityRoll < 0.8 ? 2 : severityRoll < 0.95 ? 3 : 4;
  const dispatched = reported + (0.3 + random.exponential(2)) * HOUR;
  // About 3% get stuck; those older than two weeks were finally resolved, late (a working centre chases
  // them: a county with hundreds of cases two months overdue would make 跟踪督办 a wall of red).
  const stuck = random.next() < 0.03;
  const spread = Math.exp(random.normal() * 0.9);
  const resolved = !stuck
    ? dispatched + model.resolveHours * spread * HOUR
    : now - reported > 14 * 24 * HOUR
      ? dispatched + Math.min(model.resolveHours * 8, 12 * 24) * HOUR
      : Infinity;
  const closed = resolved + (1 + random.exponential(20)) * HOUR;
  const step = (t: number) => (t <= now ? new Date(Math.round(t)) : null);
  const d = step(dispatched);
  const r = d ? step(resolved) : null;
  const c = r ? step(closed) : null;
  const drawn = model.texts[random.int(0, model.texts.length - 1)]!;
  const description = (gansu && model.gansu?.[drawn]) || drawn;
  return {
    lon,
    lat,
    category: model.code,
    severity,
    description,
    reportedAt: new Date(Math.round(reported)),
    status: c ? 'closed' : r ? 'resolved' : d ? 'dispatched' : 'reported',
    department: model.textDepartment?.[description] ?? model.department,
    dispatchedAt: d,
    resolvedAt: r,
    closedAt: c,
    feedback: c ? '已处理并回访群众' : null,
  };
}
