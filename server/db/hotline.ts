import { InputError } from '../domain/errors.ts';
import type { Queryable } from './db.ts';
import { casePlace, defaultDepartments, dispatchesOf, dispatchIncident, type DispatchJson } from './dispatches.ts';
import { incidentById, insertIncidents, type IncidentJson } from './incidents.ts';
import { recordChange } from './regions.ts';

/** A 12345 hotline work order as the hotline system sends it. */
export interface HotlineOrder {
  orderNo: string;
  receivedAt: Date;
  address: string;
  lon?: number | undefined;
  lat?: number | undefined;
  category: string;
  content: string;
  callerPhone?: string | undefined;
  severity?: number | undefined;
}

/** Words in the hotline's category text (or, failing that, its content) → our category. First match wins. */
const CATEGORY_WORDS: [RegExp, string][] = [
  [/火|消防|烟|燃/, 'fire'],
  [/纠纷|矛盾|争吵|邻里|欠薪|劳资/, 'dispute'],
  [/治安|盗|偷|抢|打架|斗殴|诈骗|赌/, 'public_order'],
  [/交通|道路|车|红绿灯|路灯|占道/, 'traffic'],
  [/垃圾|卫生|污水|噪音|噪声|臭|污染|排放/, 'sanitation'],
  [/隐患|危房|安全|坍塌|裂缝|漏电|燃气/, 'hazard'],
];

/** A category as the hotline's words are matched to it: its code and its names. */
export interface KnownCategory {
  code: string;
  zh: string;
  en: string;
}

/**
 * Our category for a hotline order: the code itself; a category the county named as the hotline does (占道经营, which
 * the county made and routed to 市场监管); else, in the hotline's category and then in what the caller said, a
 * category's name (the longest first) or the words above (消防, 纠纷…); else `other`.
 */
export function hotlineCategory(category: string, content: string, known: KnownCategory[]): string {
  const plain = (s: string) => s.normalize('NFKC').replace(/\s+/g, '').toLowerCase();
  const [cat, said] = [plain(category), plain(content)];
  if (known.some((k) => k.code === category)) return category;
  const named = known.find((k) => plain(k.zh) === cat || plain(k.en) === cat);
  if (named) return named.code;
  // (其他 names nothing a text could hold)
  const names = known.filter((k) => plain(k.zh).length >= 2 && k.code !== 'other').sort((a, b) => b.zh.length - a.zh.length);
  const codes = new Set(known.map((k) => k.code));
  // the hotline's category first, then what the caller said: by the county's names, then by the words
  for (const [text, raw] of [
    [cat, category],
    [said, content],
  ] as const) {
    const within = names.find((k) => text.includes(plain(k.zh)));
    if (within) return within.code;
    for (const [words, code] of CATEGORY_WORDS) if (words.test(raw) && codes.has(code)) return code;
  }
  return 'other';
}

/** Keeps the first 3 and last 4 digits of a phone number: 138****5678. */
export const maskPhone = (phone: string) => {
  const digits = phone.replace(/\D/g, '');
  return digits.length >= 7 ? `${digits.slice(0, 3)}****${digits.slice(-4)}` : '****';
};

export interface Location {
  lon: number;
  lat: number;
  by: 'point' | 'household' | 'grid' | 'village' | 'township';
  /** What in the address was matched (a household's address or a region's name). */
  matched?: string;
}

/**
 * Where an order happened: its coordinates when they lie in the plan; else the longest household
 * address contained in its address text; else the finest region whose name it contains (a grid,
 * a village, a township — a district alone is too coarse). Null when none of these works.
 */
export async function locateOrder(
  tx: Queryable,
  order: Pick<HotlineOrder, 'lon' | 'lat' | 'address'>,
  regionId: number | null = null,
): Promise<Location | null> {
  // A key of a county's own places its orders only in that county (its coordinates, households and place names).
  const within =
    regionId === null ? null : (await tx.query<{ ids: number[] }>(`SELECT coalesce(array_agg(id), '{}') AS ids FROM gp_subtree($1)`, [regionId])).rows[0]!.ids;
  if (within !== null && within.length === 0) return null;
  if (order.lon !== undefined && order.lat !== undefined) {
    const { rows } = await tx.query(
      `SELECT 1 FROM region WHERE (CASE WHEN $3::int IS NULL THEN level = 'district' ELSE id = $3 END)
         AND geom && ST_SetSRID(ST_MakePoint($1, $2), 4326) AND ST_Intersects(geom, ST_SetSRID(ST_MakePoint($1, $2), 4326))`,
      [order.lon, order.lat, regionId],
    );
    if (rows[0]) return { lon: order.lon, lat: order.lat, by: 'point' };
  }
  const address = order.address.replace(/\s+/g, '');
  if (address.length < 2) return null;
  const { rows: households } = await tx.query<{ lon: number; lat: number; address: string }>(
    `SELECT ST_X(geom) AS lon, ST_Y(geom) AS lat, address FROM household
     WHERE address <> '' AND length(address) >= 4 AND strpos($1, address) > 0 AND ($2::int[] IS NULL OR region_id = ANY($2::int[]))
     ORDER BY length(address) DESC, id LIMIT 1`,
    [address, within],
  );
  if (households[0]) return { lon: households[0].lon, lat: households[0].lat, by: 'household', matched: households[0].address };
  // Names repeat across a city (four counties have a 东河村) and within a county: a place is preferred whose township and
  // county the address also names, and one still shared by places the address does not tell apart is asked about.
  const { rows: regions } = await tx.query<{
    id: number;
    lon: number;
    lat: number;
    level: 'grid' | 'village' | 'township';
    name: string;
    hits: number;
    above: string;
  }>(
    `WITH c AS (
       SELECT r.id, r.level, r.name, r.geom,
              (SELECT count(*) FROM gp_ancestors(ARRAY[r.id]) a JOIN region u ON u.id = a.id
               WHERE a.depth > 0 AND length(u.name) >= 2 AND strpos($1, u.name) > 0)::int AS hits
       FROM region r
       WHERE r.level IN ('grid', 'village', 'township') AND length(r.name) >= 2 AND strpos($1, r.name) > 0
         AND ($2::int[] IS NULL OR r.id = ANY($2::int[])))
     SELECT c.id, ST_X(ST_PointOnSurface(c.geom)) AS lon, ST_Y(ST_PointOnSurface(c.geom)) AS lat, c.level, c.name, c.hits,
            (SELECT string_agg(u.name, '' ORDER BY a.depth DESC) FROM gp_ancestors(ARRAY[c.id]) a JOIN region u ON u.id = a.id
             WHERE a.depth > 0 AND u.level IN ('district', 'township', 'village')) AS above
     FROM c ORDER BY c.hits DESC, array_position(ARRAY['grid', 'village', 'township'], c.level), length(c.name) DESC, c.id LIMIT 10`,
    [address, within],
  );
  const r = regions[0];
  if (!r) return null;
  const alike = regions.filter((k) => k.hits === r.hits && k.level === r.level && k.name === r.name);
  if (alike.length > 1) {
    throw new InputError(
      'ambiguous_place',
      `${JSON.stringify(address)} names ${r.name}, of which there are ${alike.length} (${alike.map((k) => `${k.above}${k.name}`).join(', ')}): ` +
        'give its township or county in the address, or the coordinates',
      'address',
      { places: alike.map((k) => `${k.above}${k.name}`) },
    );
  }
  return { lon: r.lon, lat: r.lat, by: r.level, matched: r.name };
}

export interface IntakeResult {
  /** false: the order had been taken before; this is what it became. */
  created: boolean;
  incident: IncidentJson;
  dispatches: DispatchJson[];
  location: { by: string; matched?: string | undefined } | null;
}

/**
 * Takes a hotline order: finds where it happened, files an incident under that grid and, at the
 * same moment, dispatches it to the departments of its category (双派单). Taking the same order
 * number again changes nothing and answers with what it became.
 */
export async function takeHotlineOrder(
  tx: Queryable,
  actor: string,
  order: HotlineOrder,
  categories: KnownCategory[],
  now: Date,
  regionId: number | null = null,
): Promise<IntakeResult> {
  // An order number is its system's own (another system's order of the same number is another order, and nobody is told of it).
  const existing = await tx.query<{ id: number; located_by: string }>(
    `SELECT id, located_by FROM incident WHERE source = 'hotline' AND external_ref = $1 AND reported_by = $2`,
    [order.orderNo, actor],
  );
  if (existing.rows[0]) {
    const { id, located_by } = existing.rows[0];
    return { created: false, incident: await incidentById(tx, id, now), dispatches: await dispatchesOf(tx, id, now), location: { by: located_by } };
  }
  const location = await locateOrder(tx, order, regionId);
  if (!location) {
    throw new InputError(
      'unlocated',
      `could not place order ${order.orderNo}: no coordinates in ${regionId === null ? 'the plan' : "this key's region"}, and ` +
        `${JSON.stringify(order.address)} names no household, grid, village or township ${regionId === null ? 'of it' : 'there'}`,
      order.lon !== undefined ? 'lon' : 'address',
    );
  }
  const category = hotlineCategory(order.category, order.content, categories);
  const { ids, outside } = await insertIncidents(tx, [
    {
      lon: location.lon,
      lat: location.lat,
      category,
      severity: order.severity ?? 2,
      description: order.content.trim(),
      reportedAt: order.receivedAt,
      reporterId: null,
    },
  ]);
  if (outside.length) throw new InputError('unlocated', `order ${order.orderNo} lies outside the plan`, 'lon');
  const id = ids[0]!;
  await tx.query(`UPDATE incident SET source = 'hotline', external_ref = $2, address = $3, caller = $4, located_by = $5, reported_by = $6 WHERE id = $1`, [
    id,
    order.orderNo,
    order.address,
    order.callerPhone ? maskPhone(order.callerPhone) : null,
    location.by,
    actor,
  ]);
  const reported = await incidentById(tx, id, now);
  await recordChange(tx, { at: now, actor, action: 'report', entity: 'incident', entityId: id, before: null, after: reported });
  // (the category's departments that serve the place: the county's own 住建, not the neighbouring county's)
  const departments = await defaultDepartments(tx, category, await casePlace(tx, id));
  if (departments.length === 0) return { created: true, incident: reported, dispatches: [], location };
  // Dispatched when it arrives: the hotline received it, the grid and the departments get it together.
  const at = now > order.receivedAt ? now : order.receivedAt;
  const { incident, dispatches } = await dispatchIncident(tx, actor, id, departments, at);
  return { created: true, incident, dispatches, location };
}

/** What the hotline may see of its order: status, departments' answers, the feedback when closed. */
export async function hotlineStatus(
  db: Queryable,
  orderNo: string,
  client: string,
  now: Date,
): Promise<{ incident: IncidentJson; dispatches: DispatchJson[] } | null> {
  // an order merged into another report of the same case follows that case; only the system that sent it sees it
  const { rows } = await db.query<{ id: number }>(
    `SELECT coalesce(merged_into, id) AS id FROM incident WHERE source = 'hotline' AND external_ref = $1 AND reported_by = $2`,
    [orderNo, client],
  );
  if (!rows[0]) return null;
  return { incident: await incidentById(db, rows[0].id, now), dispatches: await dispatchesOf(db, rows[0].id, now) };
}
