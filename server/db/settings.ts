import { settingsDiff, type CodeNames, type FieldChange } from '../domain/settings-diff.ts';
import { InputError, notFound } from '../domain/errors.ts';
import type { Queryable } from './db.ts';
import { recordChange } from './regions.ts';
import { casePlaceSql } from './dispatches.ts';
import { defaultRules, districtRules, writeDefaultRules, type DistrictRule } from './rules.ts';
import { districtDeadlines, loggedDeadlines, ownDeadlines, writeDistrictDeadlines, type DistrictCategoryDeadlines } from './district-deadlines.ts';
import { districtStaffing, loggedStaffing, staffRoles, writeDistrictStaffing, type DistrictStaffRole } from './staff.ts';
import {
  approvalSteps,
  assertNoDraftUnderReview,
  districtApprovalSteps,
  loggedDistrictSteps,
  writeApprovalSteps,
  writeDistrictSteps,
  type ApprovalStep,
  type StepInput,
} from './drafts.ts';
import { lockVersion } from './versions.ts';
import {
  assessmentRules,
  districtAssessmentRules,
  loggedAssessment,
  writeDistrictAssessment,
  type AssessmentRule,
  type DistrictAssessmentRule,
} from './assessment.ts';
import type { StaffRole } from '../schemas/staff.ts';

/**
 * A county's settings besides its plan: departments (with a contact) and incident categories
 * (deadlines per severity, the departments a category goes to). Every change is logged with the
 * state before and after it, and can be undone from the log while nothing changed it since.
 */

export interface DepartmentSetting {
  id: number;
  code: string;
  zh: string;
  en: string;
  contact: string;
  phone: string;
  sort: number;
  version: number;
  /** The categories routed to it by default. */
  categories: string[];
  /** The region it serves (a city, a county or a township), null: the whole plan; with the region's name and level. */
  regionId: number | null;
  region: { id: number; name: string; level: string; code: string; label: string } | null;
}

export interface DepartmentInput {
  code: string;
  zh: string;
  en: string;
  contact: string;
  phone: string;
  sort?: number | undefined;
  categories?: string[] | undefined;
  /** The region it serves; null: the whole plan (left out on a change: as it was). */
  regionId?: number | null | undefined;
}

const DEPARTMENT_SQL = `SELECT d.id, d.code, d.zh, d.en, d.contact, d.phone, d.sort, d.version,
    coalesce((SELECT array_agg(cd.category ORDER BY cd.category) FROM category_department cd WHERE cd.department_id = d.id), '{}') AS categories,
    d.region_id AS "regionId",
    (SELECT json_build_object('id', r.id, 'name', r.name, 'level', r.level, 'code', r.code,
            -- (a township's county: township names repeat across a city's counties, 高溪乡 in two of them)
            'label', CASE WHEN r.level = 'township' THEN (SELECT p.name || '·' FROM region p WHERE p.id = r.parent_id) ELSE '' END || r.name)
     FROM region r WHERE r.id = d.region_id) AS region
  FROM department d`;

/** A department's region: a city, a county or a township (null: the whole plan); else 422 on `path`. */
async function checkDepartmentRegion(tx: Queryable, regionId: number | null, path: string): Promise<void> {
  if (regionId === null) return;
  const { rows } = await tx.query<{ level: string }>('SELECT level FROM region WHERE id = $1', [regionId]);
  if (!rows[0]) throw new InputError('unknown_region', `region ${regionId} does not exist`, path);
  if (!['city', 'district', 'township'].includes(rows[0].level))
    throw new InputError('department_region_level', `a department serves a city, a county or a township, not a ${rows[0].level}`, path, {
      level: rows[0].level,
    });
}

export async function listDepartments(db: Queryable): Promise<DepartmentSetting[]> {
  return (await db.query<DepartmentSetting>(`${DEPARTMENT_SQL} ORDER BY d.sort, d.code`)).rows;
}

/**
 * The departments as the settings list shows them, each saying whether a case or an account refers to it (`inUse`: it
 * can be renamed, not removed — the list's 删除 had stayed live on them, to be refused only when pressed). Not for
 * comparing departments before and after a change (an import's, an undo's): that they are in use is not theirs to change.
 */
export async function listDepartmentsShown(db: Queryable): Promise<(DepartmentSetting & { inUse: boolean })[]> {
  return (
    await db.query<DepartmentSetting & { inUse: boolean }>(
      `SELECT x.*, (EXISTS (SELECT 1 FROM dispatch WHERE department_id = x.id) OR EXISTS (SELECT 1 FROM app_user WHERE department_id = x.id)) AS "inUse"
       FROM (${DEPARTMENT_SQL}) x ORDER BY x.sort, x.code`,
    )
  ).rows;
}

async function department(db: Queryable, id: number): Promise<DepartmentSetting | null> {
  return (await db.query<DepartmentSetting>(`${DEPARTMENT_SQL} WHERE d.id = $1`, [id])).rows[0] ?? null;
}

async function checkCategories(tx: Queryable, codes: string[], path: string): Promise<void> {
  const { rows } = await tx.query<{ code: string }>('SELECT code FROM incident_category WHERE code = ANY($1::text[])', [codes]);
  const known = new Set(rows.map((r) => r.code));
  const i = codes.findIndex((c) => !known.has(c));
  if (i >= 0) throw new InputError('unknown_category', `${JSON.stringify(codes[i])} is not an incident category`, `${path}[${i}]`);
}

async function writeDepartment(tx: Queryable, id: number | null, d: DepartmentInput, version: number): Promise<number> {
  // a new department goes last unless told otherwise; a changed one keeps its place
  const sort =
    d.sort ??
    (id === null
      ? (await tx.query<{ next: number }>('SELECT coalesce(max(sort), 0) + 1 AS next FROM department')).rows[0]!.next
      : ((await tx.query<{ sort: number }>('SELECT sort FROM department WHERE id = $1', [id])).rows[0]?.sort ?? 0));
  const regionId = d.regionId ?? null;
  // (one change of departments at a time: two admins adding one name at once would otherwise both find it free)
  await tx.query("SELECT pg_advisory_xact_lock(hashtext('department_list'), 0)");
  // a department moved to another region while it holds cases outside it would keep cases it no longer serves
  if (id !== null) {
    const { rows: away } = await tx.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM department dep JOIN dispatch x ON x.department_id = dep.id JOIN incident i ON i.id = x.incident_id
       WHERE dep.id = $1 AND dep.region_id IS DISTINCT FROM $2 AND x.resolved_at IS NULL AND x.returned_at IS NULL
         AND NOT gp_serves($2, ${casePlaceSql('i')})`,
      [id, regionId],
    );
    if (away[0]!.n > 0)
      throw new InputError('open_cases_elsewhere', `${d.zh} has ${away[0]!.n} open cases outside that region: finish or pass them on first`, 'regionId', {
        count: away[0]!.n,
      });
  }
  // two departments of one name where one case could go to either: a list matched by name, a person choosing where to
  // send a case, could not tell them apart (two counties' own 公安 are two departments; the city's 公安 beside a county's is not)
  // (a code taken is said first, as the database would)
  const { rows: same } = await tx.query<{ code: boolean }>(
    `SELECT code = $1 AS code FROM department
     WHERE (code = $1 OR (zh = $2 AND (gp_overlaps(region_id, $4) OR gp_overlaps($4, region_id)))) AND id IS DISTINCT FROM $3
     ORDER BY code = $1 DESC LIMIT 1`,
    [d.code, d.zh, id, regionId],
  );
  if (same[0]?.code) throw new InputError('duplicate_code', `a department with code ${d.code} exists already`, 'code');
  if (same[0]) throw new InputError('duplicate_name', `a department named ${d.zh} exists already`, 'zh', { name: d.zh });
  const params = [d.code, d.zh, d.en, d.contact, d.phone, sort, regionId];
  let saved: number;
  try {
    if (id === null) {
      saved = (
        await tx.query<{ id: number }>(
          `INSERT INTO department (code, zh, en, contact, phone, sort, region_id, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
          [...params, version],
        )
      ).rows[0]!.id;
    } else {
      await tx.query(`UPDATE department SET code = $1, zh = $2, en = $3, contact = $4, phone = $5, sort = $6, region_id = $7, version = $8 WHERE id = $9`, [
        ...params,
        version,
        id,
      ]);
      saved = id;
    }
  } catch (err) {
    if ((err as { code?: string }).code === '23505') throw new InputError('duplicate_code', `a department with code ${d.code} exists already`, 'code');
    throw err;
  }
  if (d.categories) {
    await tx.query('DELETE FROM category_department WHERE department_id = $1', [saved]);
    await tx.query('INSERT INTO category_department (category, department_id) SELECT unnest($1::text[]), $2', [d.categories, saved]);
  }
  return saved;
}

/** A new department; 422 for a code taken or an unknown category. */
/** A code not yet taken, for a department or category added by its Chinese name alone: dept_8, cat_12. */
export async function freeCode(tx: Queryable, table: 'department' | 'incident_category', prefix: 'dept' | 'cat'): Promise<string> {
  const { rows } = await tx.query<{ code: string }>(
    `SELECT $1 || n AS code FROM generate_series((SELECT count(*)::int + 1 FROM ${table}), 100000) n
     WHERE NOT EXISTS (SELECT 1 FROM ${table} t WHERE t.code = $1 || n) ORDER BY n LIMIT 1`,
    [`${prefix}_`],
  );
  return rows[0]!.code;
}

export async function createDepartment(tx: Queryable, actor: string, d: DepartmentInput): Promise<DepartmentSetting> {
  if (d.categories) await checkCategories(tx, d.categories, 'categories');
  await checkDepartmentRegion(tx, d.regionId ?? null, 'regionId');
  const id = await writeDepartment(tx, null, d, 1);
  const after = (await department(tx, id))!;
  await recordChange(tx, { actor, action: 'create', entity: 'department', entityId: id, before: null, after });
  return after;
}

/** Changes a department at the version the editor saw (409 when someone changed it since). */
export async function updateDepartment(tx: Queryable, actor: string, id: number, version: number, d: Partial<DepartmentInput>): Promise<DepartmentSetting> {
  const before = await lockedDepartment(tx, id, version);
  if (d.categories) await checkCategories(tx, d.categories, 'categories');
  if (d.regionId !== undefined) await checkDepartmentRegion(tx, d.regionId, 'regionId');
  // the fields not sent stay as they are (its categories too: writeDepartment leaves them when not given)
  const { code, zh, en, contact, phone, regionId } = before;
  await writeDepartment(
    tx,
    id,
    { code, zh, en, contact, phone, regionId, ...Object.fromEntries(Object.entries(d).filter(([, v]) => v !== undefined)) },
    before.version + 1,
  );
  const after = (await department(tx, id))!;
  await recordChange(tx, { actor, action: 'update', entity: 'department', entityId: id, before, after });
  return after;
}

async function lockedDepartment(tx: Queryable, id: number, version: number): Promise<DepartmentSetting> {
  await tx.query('SELECT id FROM department WHERE id = $1 FOR UPDATE', [id]);
  const before = await department(tx, id);
  if (!before) throw notFound('department', id);
  if (before.version !== version) {
    throw new InputError('version_conflict', `${before.zh} was changed by someone else; reload it`, 'version', { currentVersion: before.version });
  }
  return before;
}

/**
 * Removes a department's row, and with it the categories' routing to it: each category it leaves
 * gets a new version and its own entry in the log, as if it had been edited.
 */
async function removeDepartment(tx: Queryable, actor: string, id: number): Promise<void> {
  const { rows } = await tx.query<{ category: string }>('SELECT category FROM category_department WHERE department_id = $1 ORDER BY category', [id]);
  const before = await Promise.all(rows.map((r) => category(tx, r.category)));
  await tx.query('DELETE FROM department WHERE id = $1', [id]);
  for (const b of before) {
    if (!b) continue;
    await tx.query('UPDATE incident_category SET version = version + 1 WHERE code = $1', [b.code]);
    await recordChange(tx, { actor, action: 'update', entity: 'incident_category', entityId: null, before: b, after: await category(tx, b.code) });
  }
}

/** Removes a department no case and no account refers to (else 422 `in_use`: rename it instead). */
export async function deleteDepartment(tx: Queryable, actor: string, id: number, version: number): Promise<void> {
  const before = await lockedDepartment(tx, id, version);
  const { rows } = await tx.query<{ cases: number; users: number }>(
    `SELECT (SELECT count(*) FROM dispatch WHERE department_id = $1)::int AS cases, (SELECT count(*) FROM app_user WHERE department_id = $1)::int AS users`,
    [id],
  );
  const use = rows[0]!;
  if (use.cases > 0 || use.users > 0) {
    throw new InputError('in_use', `${before.zh} has ${use.cases} cases and ${use.users} accounts; it can be renamed but not removed`, 'id', use);
  }
  await removeDepartment(tx, actor, id);
  await recordChange(tx, { actor, action: 'delete', entity: 'department', entityId: id, before, after: null });
}

/** A department list's row, as the import read it. */
export interface DepartmentRow {
  code: string | null;
  zh: string;
  en: string | null;
  contact: string | null;
  phone: string | null;
}

/** What a department list's import did: one entry in the settings log, undone whole. */
export interface DepartmentListImport {
  added: number;
  updated: number;
  unchanged: number;
  /** The settings change to undo (null: nothing changed). */
  change: number | null;
  /**
   * New departments whose name looks like one already there (消防 beside 消防救援, 市场监管局 beside
   * 市场监管): most often the same department written another way, which would then be listed twice.
   */
  similar: { name: string; like: string }[];
}

/** A department's name without what counties add or leave out: 市/县/区 before, 局/委员会/办公室/中心/大队… after. */
export function departmentCore(zh: string): string {
  let core = zh
    .replace(/\s/g, '')
    .replace(/^(?:[\u4e00-\u9fa5]{1,4}?[市县区旗]|[市县区])(?!场)(?=.{2,})/, '')
    .replace(/(管理局|委员会|办公室|服务中心|中心|大队|支队|分局|局|委|办|所|站|队)$/, '');
  // the official long name as people shorten it (市场监督管理局 is the 市场监管 of a county's lists)
  for (const [long, short] of SHORT_NAMES) core = core.replace(long, short);
  return core;
}

/** Departments' official names and the short ones lists use: 住房和城乡建设 → 住建, 人力资源和社会保障 → 人社… */
const SHORT_NAMES: [RegExp, string][] = [
  [/^市场监督(?:管理)?/, '市场监管'],
  [/^住房和?城乡建设/, '住建'],
  [/^人力资源和?社会保障/, '人社'],
  [/^自然资源和?规划/, '自然资源'],
  [/^卫生和?健康/, '卫健'],
  [/^文化(?:广电)?和?旅游/, '文旅'],
  [/^发展和?改革/, '发改'],
  [/^教育(?:和|与)?体育/, '教体'],
  [/^退役军人事务/, '退役军人'],
  [/^农业农村/, '农业'],
  [/^应急管理/, '应急'],
  [/^(?:城市管理)?综合(?:行政)?执法/, '综合执法'],
];

/** Whether two departments' names (their cores: `departmentCore`) name one department, as far as the words tell. */
const alike = (x: string, y: string) => x.length >= 2 && y.length >= 2 && (x === y || x.startsWith(y) || y.startsWith(x));

/**
 * A county's department list (Yumen's 37) in one go: each row is the department with its code, else
 * its name, and is changed where a field the file fills differs (a field left empty keeps what is
 * there), or made (a code derived from the list's order when the file has none). One entry in the
 * settings log, `department_list`, with every department's state before and after: its undo takes the
 * whole list back while nobody changed those departments since.
 */
export async function importDepartments(
  tx: Queryable,
  actor: string,
  rows: DepartmentRow[],
  regionId: number | null = null,
  regionPath = 'regionId',
): Promise<DepartmentListImport> {
  await tx.query("SELECT pg_advisory_xact_lock(hashtext('department_list'), 0)");
  await checkDepartmentRegion(tx, regionId, regionPath);
  const all = await listDepartments(tx);
  const byCode = new Map(all.map((d) => [d.code, d]));
  // a row named, not coded, is the department of that name a case of the list's region could go to (another county's
  // own 公安 is not this county's); a new one serves the list's region
  const { rows: near } = await tx.query<{ id: number }>('SELECT id FROM department WHERE gp_overlaps(region_id, $1) OR gp_overlaps($1, region_id)', [regionId]);
  const nearIds = new Set(near.map((r) => r.id));
  const byName = new Map(all.filter((d) => nearIds.has(d.id)).map((d) => [d.zh, d]));
  // a code given to a row without one is none the file names either (a later row's own dept_8)
  const taken = new Set([...all.map((d) => d.code), ...rows.flatMap((r) => (r.code ? [r.code] : []))]);
  let n = all.length;
  const nextCode = () => {
    while (taken.has(`dept_${++n}`));
    taken.add(`dept_${n}`);
    return `dept_${n}`;
  };
  const before: DepartmentSetting[] = [];
  const touched: number[] = [];
  let [added, unchanged] = [0, 0];
  for (const r of rows) {
    const was = (r.code ? byCode.get(r.code) : undefined) ?? byName.get(r.zh);
    if (was) {
      const next = { code: was.code, zh: r.zh, en: r.en ?? was.en, contact: r.contact ?? was.contact, phone: r.phone ?? was.phone, regionId: was.regionId };
      if (next.zh === was.zh && next.en === was.en && next.contact === was.contact && next.phone === was.phone) {
        unchanged++;
        continue;
      }
      before.push(was);
      await writeDepartment(tx, was.id, next, was.version + 1);
      touched.push(was.id);
    } else {
      const code = r.code ?? nextCode();
      taken.add(code);
      touched.push(await writeDepartment(tx, null, { code, zh: r.zh, en: r.en ?? r.zh, contact: r.contact ?? '', phone: r.phone ?? '', regionId }, 1));
      added++;
    }
  }
  // (each name's core once: the list against the departments there)
  const cores = all.filter((d) => nearIds.has(d.id)).map((d) => ({ zh: d.zh, core: departmentCore(d.zh) }));
  const similar = rows
    .filter((r) => !((r.code ? byCode.get(r.code) : undefined) ?? byName.get(r.zh)))
    .flatMap((r) => {
      const core = departmentCore(r.zh);
      const like = cores.find((d) => alike(d.core, core));
      return like ? [{ name: r.zh, like: like.zh }] : [];
    });
  if (touched.length === 0) return { added, updated: 0, unchanged, change: null, similar };
  const after = (await listDepartments(tx)).filter((d) => touched.includes(d.id));
  // (the log's subject: the same words before and after, so that only the departments show as changed)
  const zh = `${touched.length} 个部门`;
  await recordChange(tx, {
    actor,
    action: 'import',
    entity: 'department_list',
    entityId: null,
    before: { zh, departments: before },
    after: { zh, departments: after },
  });
  const change = (await tx.query<{ id: number }>(`SELECT max(id) AS id FROM change WHERE entity = 'department_list'`)).rows[0]!.id;
  return { added, updated: before.length, unchanged, change, similar };
}

/** Takes a department list's import back: the departments it made go, those it changed are as they were; 409 when any changed since. */
async function undoDepartmentList(tx: Queryable, actor: string, changeId: number, before: DepartmentSetting[], after: DepartmentSetting[]): Promise<void> {
  await tx.query("SELECT pg_advisory_xact_lock(hashtext('department_list'), 0)");
  const own = (d: DepartmentSetting) => ({ ...d, categories: null, version: null });
  const was = new Map(before.map((d) => [d.id, d]));
  const now: DepartmentSetting[] = [];
  for (const a of after) {
    const d = await department(tx, a.id);
    if (!d || !same(own(d), own(a))) {
      throw new InputError('version_conflict', `${a.zh} was changed after this import; undo the later change first`, 'id', {
        reason: 'department',
        name: a.zh,
      });
    }
    if (!was.has(a.id)) {
      const use = await tx.query('SELECT 1 FROM dispatch WHERE department_id = $1 UNION ALL SELECT 1 FROM app_user WHERE department_id = $1 LIMIT 1', [a.id]);
      if (use.rows.length > 0 || d.categories.length > 0)
        throw new InputError('in_use', `${a.zh} has cases, accounts or categories now; it can no longer be removed`, 'id');
    }
    now.push(d);
  }
  for (const d of now) {
    const b = was.get(d.id);
    if (b) await writeDepartment(tx, d.id, { ...b, categories: undefined }, d.version + 1);
    else await removeDepartment(tx, actor, d.id);
  }
  const zh = `${after.length} 个部门`;
  const left = (await listDepartments(tx)).filter((d) => was.has(d.id));
  await recordChange(tx, {
    actor,
    action: 'undo',
    entity: 'department_list',
    entityId: null,
    before: { zh, departments: now },
    after: { zh, departments: left, undoes: changeId },
  });
}

export interface Deadline {
  severity: number;
  ackHours: number;
  resolveHours: number;
}

export interface CategorySetting {
  code: string;
  zh: string;
  en: string;
  /** Hours to close (the analyze view's overdue), and per severity the hours to acknowledge and resolve a dispatch. */
  deadlineHours: number;
  deadlines: Deadline[];
  /** The departments it goes to by default, by code. */
  departments: string[];
  sort: number;
  version: number;
}

export interface CategoryInput {
  zh: string;
  en: string;
  deadlineHours: number;
  deadlines: Deadline[];
  departments: string[];
  sort?: number | undefined;
}

const CATEGORY_SQL = `SELECT c.code, c.zh, c.en, c.deadline_hours AS "deadlineHours", c.sort, c.version,
    coalesce((SELECT json_agg(json_build_object('severity', x.severity, 'ackHours', x.ack_hours::float8, 'resolveHours', x.resolve_hours::float8)
                              ORDER BY x.severity) FROM incident_deadline x WHERE x.category = c.code), '[]') AS deadlines,
    coalesce((SELECT array_agg(d.code ORDER BY d.sort, d.code) FROM category_department cd JOIN department d ON d.id = cd.department_id
              WHERE cd.category = c.code), '{}') AS departments
  FROM incident_category c`;

export async function listCategories(db: Queryable): Promise<CategorySetting[]> {
  return (await db.query<CategorySetting>(`${CATEGORY_SQL} ORDER BY c.sort, c.code`)).rows;
}

async function category(db: Queryable, code: string): Promise<CategorySetting | null> {
  return (await db.query<CategorySetting>(`${CATEGORY_SQL} WHERE c.code = $1`, [code])).rows[0] ?? null;
}

function checkDeadlines(c: CategoryInput): void {
  const severities = c.deadlines.map((d) => d.severity).sort();
  if (severities.join() !== '1,2,3,4') throw new InputError('invalid_deadlines', 'give the deadlines of severities 1, 2, 3 and 4, once each', 'deadlines');
  c.deadlines.forEach((d, i) => {
    if (d.ackHours > d.resolveHours) {
      throw new InputError(
        'invalid_deadlines',
        `severity ${d.severity}: acknowledging (${d.ackHours} h) cannot take longer than resolving (${d.resolveHours} h)`,
        `deadlines[${i}]`,
      );
    }
  });
}

async function writeCategory(tx: Queryable, code: string, c: CategoryInput, version: number, create: boolean): Promise<void> {
  const ids = await departmentIdsOf(tx, c.departments);
  // a new category goes last unless told otherwise; a changed one keeps its place
  const sort =
    c.sort ??
    (create
      ? (await tx.query<{ next: number }>('SELECT coalesce(max(sort), 0) + 1 AS next FROM incident_category')).rows[0]!.next
      : ((await tx.query<{ sort: number }>('SELECT sort FROM incident_category WHERE code = $1', [code])).rows[0]?.sort ?? 0));
  if (create) {
    await tx.query(`INSERT INTO incident_category (code, zh, en, deadline_hours, sort, version) VALUES ($1, $2, $3, $4, $5, $6)`, [
      code,
      c.zh,
      c.en,
      c.deadlineHours,
      sort,
      version,
    ]);
  } else {
    await tx.query(`UPDATE incident_category SET zh = $2, en = $3, deadline_hours = $4, sort = $5, version = $6 WHERE code = $1`, [
      code,
      c.zh,
      c.en,
      c.deadlineHours,
      sort,
      version,
    ]);
  }
  await tx.query('DELETE FROM incident_deadline WHERE category = $1', [code]);
  await tx.query(
    `INSERT INTO incident_deadline (category, severity, ack_hours, resolve_hours)
     SELECT $1, s, a, r FROM unnest($2::int[], $3::numeric[], $4::numeric[]) AS t(s, a, r)`,
    [code, c.deadlines.map((d) => d.severity), c.deadlines.map((d) => d.ackHours), c.deadlines.map((d) => d.resolveHours)],
  );
  await tx.query('DELETE FROM category_department WHERE category = $1', [code]);
  await tx.query('INSERT INTO category_department (category, department_id) SELECT $1, unnest($2::int[])', [code, ids]);
}

async function departmentIdsOf(tx: Queryable, codes: string[]): Promise<number[]> {
  const { rows } = await tx.query<{ id: number; code: string }>('SELECT id, code FROM department WHERE code = ANY($1::text[])', [codes]);
  const i = codes.findIndex((c) => !rows.some((r) => r.code === c));
  if (i >= 0) throw new InputError('unknown_department', `${JSON.stringify(codes[i])} is not a department`, `departments[${i}]`);
  return rows.map((r) => r.id);
}

/** A new incident category with its deadlines and departments; 422 when the code is taken. */
export async function createCategory(tx: Queryable, actor: string, code: string, c: CategoryInput): Promise<CategorySetting> {
  checkDeadlines(c);
  if (await category(tx, code)) throw new InputError('duplicate_code', `a category with code ${code} exists already`, 'code');
  await writeCategory(tx, code, c, 1, true);
  const after = (await category(tx, code))!;
  await recordChange(tx, { actor, action: 'create', entity: 'incident_category', entityId: null, before: null, after });
  return after;
}

/** Changes a category at the version the editor saw (409 when someone changed it since). */
export async function updateCategory(tx: Queryable, actor: string, code: string, version: number, c: CategoryInput): Promise<CategorySetting> {
  checkDeadlines(c);
  await tx.query('SELECT code FROM incident_category WHERE code = $1 FOR UPDATE', [code]);
  const before = await category(tx, code);
  if (!before) throw notFound('category', code);
  if (before.version !== version) {
    throw new InputError('version_conflict', `${before.zh} was changed by someone else; reload it`, 'version', { currentVersion: before.version });
  }
  await writeCategory(tx, code, c, before.version + 1, false);
  const after = (await category(tx, code))!;
  await recordChange(tx, { actor, action: 'update', entity: 'incident_category', entityId: null, before, after });
  return after;
}

/** The settings changes, newest first: what the settings screen lists with its undo buttons. */
export interface SettingsChange {
  id: number;
  at: string;
  actor: string;
  action: string;
  entity: string;
  subject: string;
  undone: boolean;
  /** Who, as people know them (the account's display name; its username when it has none or is gone). */
  actorName: string;
  /** For an update, what it changed, field by field. */
  changed: FieldChange[];
}

export const SETTINGS_ENTITIES = [
  'department',
  'department_list',
  'incident_category',
  'grid_type_rule',
  'staff_role',
  'staff_requirement',
  'district_deadline',
  'approval_step',
  'escalation_contact',
  'assessment_rule',
  'district_assessment_rule',
  'district_approval_step',
] as const;

export async function settingsChanges(db: Queryable, limit: number): Promise<SettingsChange[]> {
  const { rows } = await db.query<Omit<SettingsChange, 'changed'> & { before: unknown; after: unknown }>(
    `SELECT c.id, to_char(c.at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI') AS at, c.actor,
            coalesce(nullif((SELECT u.display_name FROM app_user u WHERE u.username = c.actor), ''), c.actor) AS "actorName",
            c.action, c.entity, c.before, c.after,
            coalesce(c.after ->> 'zh', c.before ->> 'zh', r.name, '') AS subject,
            EXISTS (SELECT 1 FROM change u WHERE u.entity = c.entity AND u.action = 'undo' AND (u.after ->> 'undoes')::int = c.id) AS undone
     FROM change c LEFT JOIN region r ON c.entity IN ('grid_type_rule', 'escalation_contact') AND r.id = c.entity_id
     WHERE c.entity = ANY($1::text[]) AND c.action <> 'undo'
     ORDER BY c.id DESC LIMIT $2`,
    [SETTINGS_ENTITIES, limit],
  );
  const names = async (sql: string) => new Map((await db.query<{ code: string; zh: string; en: string }>(sql)).rows.map((r) => [r.code, r]));
  const codes: CodeNames = rows.some((r) => r.action !== 'delete')
    ? {
        departments: await names('SELECT code, zh, en FROM department'),
        categories: await names('SELECT code, zh, en FROM incident_category'),
      }
    : {};
  return rows.map(({ before, after, ...c }) => ({
    ...c,
    // (a department list's import: the departments it touched, before and after)
    changed:
      c.action === 'update' || c.action === 'import' ? settingsDiff(before, after, codes) : c.action === 'create' ? settingsDiff(null, after, codes) : [],
  }));
}

/** Equal as JSON whatever the order of keys (the change log keeps its states as jsonb, which reorders them). */
function canon(x: unknown): string {
  if (Array.isArray(x)) return `[${x.map(canon).join(',')}]`;
  if (x && typeof x === 'object') {
    return `{${Object.keys(x)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canon((x as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(x ?? null);
}
const same = (a: unknown, b: unknown) => canon(a) === canon(b);

/**
 * Undoes one settings change: the entity goes back to its state before it, when it is still as the
 * change left it (409 otherwise: a later change must be undone first). Logged as an undo.
 */
export async function undoSettingsChange(tx: Queryable, actor: string, changeId: number): Promise<{ entity: string; subject: string }> {
  const { rows } = await tx.query<{ entity: string; entity_id: number | null; action: string; before: unknown; after: unknown }>(
    `SELECT entity, entity_id, action, before, after FROM change WHERE id = $1 AND entity = ANY($2::text[]) AND action <> 'undo' FOR UPDATE`,
    [changeId, SETTINGS_ENTITIES],
  );
  const c = rows[0];
  if (!c) throw notFound('settings change', changeId);
  const done = await tx.query(`SELECT 1 FROM change WHERE entity = $1 AND action = 'undo' AND (after ->> 'undoes')::int = $2`, [c.entity, changeId]);
  if (done.rows.length > 0) throw new InputError('already_undone', 'this change was undone already', 'id');
  const conflict = (name: string) => new InputError('version_conflict', `${name} was changed after this; undo the later change first`, 'id');
  let subject: string;
  if (c.entity === 'department') {
    const before = c.before as DepartmentSetting | null;
    const after = c.after as DepartmentSetting | null;
    const id = (before ?? after)!.id;
    const now = await department(tx, id);
    subject = (before ?? after)!.zh;
    // as a state, whatever its version (an undo gives back an earlier state under a new version);
    // the categories routed to it are shared with the categories' own edits: compared, and given
    // back, only when this change set them
    const own = (d: DepartmentSetting) => ({ ...d, categories: null, version: null });
    const routed = before && after && !same(before.categories, after.categories);
    if (after ? !now || !same(own(now), own(after)) || (routed && !same(now.categories, after.categories)) : now) throw conflict(subject);
    if (!before) {
      const use = await tx.query('SELECT 1 FROM dispatch WHERE department_id = $1 UNION ALL SELECT 1 FROM app_user WHERE department_id = $1 LIMIT 1', [id]);
      if (use.rows.length > 0) throw new InputError('in_use', `${subject} has cases or accounts now; it can no longer be removed`, 'id');
      // categories routed to it since (a later change of theirs): removing it would silently route them nowhere
      if (now && !same([...(now.categories ?? [])].sort(), [...(after?.categories ?? [])].sort()))
        throw new InputError('in_use', `categories have been routed to ${subject} since; undo those changes first`, 'id', { later: true });
      await removeDepartment(tx, actor, id);
    } else {
      if (!after) await tx.query('INSERT INTO department (id, code, zh, en) VALUES ($1, $2, $3, $4)', [id, before.code, before.zh, before.en]);
      await writeDepartment(tx, id, { ...before, categories: routed || !after ? before.categories : undefined }, (now?.version ?? before.version) + 1);
    }
    await recordChange(tx, {
      actor,
      action: 'undo',
      entity: 'department',
      entityId: id,
      before: now,
      after: { ...(await department(tx, id)), undoes: changeId },
    });
  } else if (c.entity === 'department_list') {
    const [b, a] = [c.before as { zh: string; departments: DepartmentSetting[] }, c.after as { zh: string; departments: DepartmentSetting[] }];
    subject = a.zh;
    await undoDepartmentList(tx, actor, changeId, b.departments, a.departments);
  } else if (c.entity === 'incident_category') {
    const before = c.before as CategorySetting | null;
    const after = c.after as CategorySetting;
    const now = await category(tx, after.code);
    subject = after.zh;
    const own = (x: CategorySetting) => ({ ...x, departments: null, version: null });
    const routed = before && !same([...before.departments].sort(), [...after.departments].sort());
    if (!now || !same(own(now), own(after)) || (routed && !same([...now.departments].sort(), [...after.departments].sort()))) throw conflict(subject);
    if (!before) {
      const use = await tx.query('SELECT 1 FROM incident WHERE category = $1 LIMIT 1', [after.code]);
      if (use.rows.length > 0) throw new InputError('in_use', `${subject} has incidents now; it can no longer be removed`, 'id');
      await tx.query('DELETE FROM incident_category WHERE code = $1', [after.code]);
    } else await writeCategory(tx, before.code, { ...before, departments: routed ? before.departments : now.departments }, now.version + 1, false);
    await recordChange(tx, {
      actor,
      action: 'undo',
      entity: 'incident_category',
      entityId: null,
      before: now,
      after: { ...(await category(tx, after.code)), undoes: changeId },
    });
  } else if (c.entity === 'approval_step') {
    await lockVersion(tx, 'approval_step', null, undefined, 'the approval steps');
    const now = await approvalSteps(tx);
    subject = '';
    if (!same(now, c.after)) throw conflict('the approval steps');
    await assertNoDraftUnderReview(tx);
    await writeApprovalSteps(tx, c.before as StepInput[]);
    await recordChange(tx, {
      actor,
      action: 'undo',
      entity: 'approval_step',
      entityId: null,
      before: now,
      after: { steps: await approvalSteps(tx), undoes: changeId },
    });
  } else if (c.entity === 'escalation_contact') {
    // the accounts named for the region as they were (those since removed cannot come back)
    const regionId = c.entity_id!;
    await lockVersion(tx, 'escalation_contact', regionId, undefined, 'the contacts');
    const ids = (x: unknown) => ((x as { named: { id: number }[] }).named ?? []).map((u) => u.id).sort((a, b) => a - b);
    const named = async () =>
      (await tx.query<{ id: number }>('SELECT user_id AS id FROM escalation_contact WHERE region_id = $1 ORDER BY user_id', [regionId])).rows.map((r) => r.id);
    const now = await named();
    subject = (c.after as { name?: string }).name ?? '';
    if (!same(now, ids(c.after))) throw conflict(`the contacts of ${subject}`);
    const back = ids(c.before);
    // still there, enabled and overseeing the area, as naming them requires
    const { rows: alive } = await tx.query<{ id: number }>(
      `SELECT id FROM app_user WHERE id = ANY($1::int[]) AND NOT disabled AND role IN ('leader', 'center', 'admin')
         AND (region_id IS NULL OR region_id IN (SELECT a.id FROM gp_ancestors(ARRAY[$2::int]) a))`,
      [back, regionId],
    );
    if (alive.length < back.length)
      throw new InputError('in_use', `an account named then is gone, disabled or has other work now; name the contacts of ${subject} again`, 'id');
    await tx.query('DELETE FROM escalation_contact WHERE region_id = $1', [regionId]);
    await tx.query('INSERT INTO escalation_contact (region_id, user_id) SELECT $1, unnest($2::int[])', [regionId, back]);
    await recordChange(tx, {
      actor,
      action: 'undo',
      entity: 'escalation_contact',
      entityId: regionId,
      before: { named: now.map((id) => ({ id })) },
      after: { named: (await named()).map((id) => ({ id })), undoes: changeId },
    });
  } else if (c.entity === 'assessment_rule') {
    // 考核 points as they were, while nobody changed them since
    await tx.query('SELECT measure FROM assessment_rule ORDER BY measure FOR UPDATE');
    const now = await assessmentRules(tx);
    subject = '';
    // (as points, whatever their versions: a later change undone since leaves them as this one did)
    const points = (rules: AssessmentRule[]) => rules.map((r) => [r.measure, r.points]).sort();
    if (!same(points(now), points(c.after as AssessmentRule[]))) throw conflict('the assessment rules');
    const was = new Map((c.before as AssessmentRule[]).map((r) => [r.measure, r.points]));
    for (const r of now)
      if (was.has(r.measure) && was.get(r.measure) !== r.points)
        await tx.query('UPDATE assessment_rule SET points = $2, version = version + 1 WHERE measure = $1', [r.measure, was.get(r.measure)]);
    await recordChange(tx, {
      actor,
      action: 'undo',
      entity: 'assessment_rule',
      entityId: null,
      before: now,
      after: { rules: await assessmentRules(tx), undoes: changeId },
    });
  } else if (c.entity === 'district_approval_step') {
    // a district's own steps as they were (or the plan's again), while nobody changed them since and none of its drafts is
    // under review (compared by its own: the plan's may have moved meanwhile)
    const districtId = c.entity_id!;
    const { rows: d } = await tx.query<{ name: string }>('SELECT name FROM region WHERE id = $1 FOR UPDATE', [districtId]);
    if (!d[0]) throw notFound('district', districtId);
    type Model = { zh: string; districtOwn: 'yes' | 'no'; steps: ApprovalStep[] };
    const [before, after] = [c.before as Model, c.after as Model];
    const now = await districtApprovalSteps(tx, districtId);
    subject = after.zh;
    const own = (m: { own: boolean; steps: ApprovalStep[] }) => (m.own ? m.steps.map((x) => [x.level, x.zh, x.en, [...x.roles].sort()]) : null);
    if (!same(own(now), own({ own: after.districtOwn === 'yes', steps: after.steps }))) throw conflict(`the approval steps of ${subject}`);
    await assertNoDraftUnderReview(tx, districtId);
    await writeDistrictSteps(tx, districtId, before.districtOwn === 'yes' ? before.steps : null);
    await recordChange(tx, {
      actor,
      action: 'undo',
      entity: 'district_approval_step',
      entityId: districtId,
      before: loggedDistrictSteps(d[0].name, now),
      after: { ...loggedDistrictSteps(d[0].name, await districtApprovalSteps(tx, districtId)), undoes: changeId },
    });
  } else if (c.entity === 'district_assessment_rule') {
    // a district's own 考核 points as they were, while nobody changed them since (compared by its own: the plan's may
    // have moved meanwhile)
    const districtId = c.entity_id!;
    const { rows: d } = await tx.query<{ name: string }>('SELECT name FROM region WHERE id = $1 FOR UPDATE', [districtId]);
    if (!d[0]) throw notFound('district', districtId);
    type Model = { zh: string; rules: DistrictAssessmentRule[] };
    const [before, after] = [c.before as Model, c.after as Model];
    const now = await districtAssessmentRules(tx, districtId);
    subject = after.zh;
    const own = (rs: DistrictAssessmentRule[]) => rs.filter((r) => r.own).map((r) => [r.measure, r.points]);
    if (!same(own(now), own(after.rules))) throw conflict(`the assessment points of ${subject}`);
    await writeDistrictAssessment(tx, districtId, before.rules);
    await recordChange(tx, {
      actor,
      action: 'undo',
      entity: 'district_assessment_rule',
      entityId: districtId,
      before: loggedAssessment(d[0].name, now),
      after: { ...loggedAssessment(d[0].name, await districtAssessmentRules(tx, districtId)), undoes: changeId },
    });
  } else if (c.entity === 'staff_requirement') {
    // a district's own counts as they were, while nobody changed them since (the plan's model may have moved meanwhile:
    // the roles following it are compared as following it, not by their counts)
    const districtId = c.entity_id!;
    const { rows: d } = await tx.query<{ name: string }>('SELECT name FROM region WHERE id = $1 FOR UPDATE', [districtId]);
    if (!d[0]) throw notFound('district', districtId);
    type Model = { zh: string; roles: DistrictStaffRole[] };
    const [before, after] = [c.before as Model, c.after as Model];
    const now = await districtStaffing(tx, districtId);
    subject = after.zh;
    const own = (roles: DistrictStaffRole[]) => roles.filter((r) => r.own).map((r) => [r.code, r.minPerGrid]);
    if (!same(own(now), own(after.roles))) throw conflict(`the staffing model of ${subject}`);
    await writeDistrictStaffing(tx, districtId, before.roles);
    await recordChange(tx, {
      actor,
      action: 'undo',
      entity: 'staff_requirement',
      entityId: districtId,
      before: loggedStaffing(d[0].name, now),
      after: { ...loggedStaffing(d[0].name, await districtStaffing(tx, districtId)), undoes: changeId },
    });
  } else if (c.entity === 'district_deadline') {
    // a district's own deadlines as they were, while nobody changed them since (compared by its own categories: the
    // plan's may have moved meanwhile)
    const districtId = c.entity_id!;
    const { rows: d } = await tx.query<{ name: string }>('SELECT name FROM region WHERE id = $1 FOR UPDATE', [districtId]);
    if (!d[0]) throw notFound('district', districtId);
    type Model = { zh: string; model: DistrictCategoryDeadlines[] };
    const [before, after] = [c.before as Model, c.after as Model];
    const now = await districtDeadlines(tx, districtId);
    subject = after.zh;
    // (an entry logged before close hours were a district's own has none to compare: its four only)
    const own = (cs: DistrictCategoryDeadlines[], closes: boolean) => ownDeadlines(cs).map(([code, four, close]) => [code, four, closes ? close : null]);
    const logged = after.model.every((x) => x.closeOwn !== undefined);
    if (!same(own(now, logged), own(after.model, logged))) throw conflict(`the deadlines of ${subject}`);
    await writeDistrictDeadlines(tx, districtId, before.model);
    await recordChange(tx, {
      actor,
      action: 'undo',
      entity: 'district_deadline',
      entityId: districtId,
      before: loggedDeadlines(d[0].name, now),
      after: { ...loggedDeadlines(d[0].name, await districtDeadlines(tx, districtId)), undoes: changeId },
    });
  } else if (c.entity === 'staff_role') {
    // the staffing model as it was: its roles, counts and order; a role the change added stays (grids may
    // name it) but is required of none
    await lockVersion(tx, 'staff_role', null, undefined, 'the staffing model');
    const before = c.before as StaffRole[];
    const now = await staffRoles(tx);
    subject = '';
    if (!same(now, c.after)) throw conflict('the staffing model');
    await tx.query('UPDATE staff_role SET min_per_grid = 0 WHERE code <> ALL($1::text[])', [before.map((r) => r.code)]);
    await tx.query(
      `UPDATE staff_role r SET zh = t.zh, en = t.en, min_per_grid = t.n, sort = t.ord
       FROM unnest($1::text[], $2::text[], $3::text[], $4::int[]) WITH ORDINALITY AS t(code, zh, en, n, ord) WHERE r.code = t.code`,
      [before.map((r) => r.code), before.map((r) => r.zh), before.map((r) => r.en), before.map((r) => r.minPerGrid)],
    );
    await recordChange(tx, {
      actor,
      action: 'undo',
      entity: 'staff_role',
      entityId: null,
      before: now,
      after: { roles: await staffRoles(tx), undoes: changeId },
    });
  } else if (c.entity_id === null) {
    // the plan's own ranges (locked first, as a change of them does: one committed meanwhile is then seen, not overwritten)
    await tx.query('SELECT 1 FROM grid_type_rule WHERE district_id IS NULL FOR UPDATE');
    const before = c.before as DistrictRule[];
    const now = await defaultRules(tx);
    subject = 'rules';
    if (!same(now, c.after)) throw conflict('the plan’s household ranges');
    await writeDefaultRules(tx, before);
    await recordChange(tx, {
      actor,
      action: 'undo',
      entity: 'grid_type_rule',
      entityId: null,
      before: now,
      after: { rules: await defaultRules(tx), undoes: changeId },
    });
  } else {
    const districtId = c.entity_id!;
    // (the district's row locked, as a change of its rules does)
    await tx.query('SELECT 1 FROM region WHERE id = $1 FOR UPDATE', [districtId]);
    const before = c.before as DistrictRule[];
    const now = await districtRules(tx, districtId);
    subject = 'rules';
    // only the district's own ranges: the types it follows from the plan move with the plan's changes, which are not this one's
    const owned = (rules: DistrictRule[]) => rules.filter((r) => r.own).map((r) => [r.gridType, r.min, r.max, r.target]);
    if (!same(owned(now), owned(c.after as DistrictRule[]))) throw conflict('the district rules');
    await tx.query('DELETE FROM grid_type_rule WHERE district_id = $1', [districtId]);
    const own = before.filter((r) => r.own);
    await tx.query(
      `INSERT INTO grid_type_rule (district_id, grid_type, min_households, max_households, target_households)
       SELECT $1, t.g, t.lo, t.hi, t.target FROM unnest($2::text[], $3::int[], $4::int[], $5::int[]) AS t(g, lo, hi, target)`,
      [districtId, own.map((r) => r.gridType), own.map((r) => r.min), own.map((r) => r.max), own.map((r) => r.target)],
    );
    await recordChange(tx, {
      actor,
      action: 'undo',
      entity: 'grid_type_rule',
      entityId: districtId,
      before: now,
      after: { rules: await districtRules(tx, districtId), undoes: changeId },
    });
  }
  return { entity: c.entity, subject };
}
