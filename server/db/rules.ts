import { InputError, notFound } from '../domain/errors.ts';
import { GRID_TYPE_NAMES, GRID_TYPES, type GridType } from '../domain/grid-types.ts';
import type { Queryable } from './db.ts';
import { recordChange } from './regions.ts';

/** A grid type's household range in a district: its own rule, or the default (`own: false`). */
export interface DistrictRule {
  gridType: GridType;
  zh: string;
  en: string;
  min: number;
  max: number;
  target: number;
  own: boolean;
}

/** The district a region lies in (itself when it is one); null when there is no such region. */
export async function districtOf(db: Queryable, regionId: number): Promise<{ id: number; name: string } | null> {
  const { rows } = await db.query<{ id: number; name: string }>(
    `SELECT r.id, r.name FROM gp_ancestors($1::int[]) a JOIN region r ON r.id = a.id WHERE r.level = 'district' LIMIT 1`,
    [[regionId]],
  );
  return rows[0] ?? null;
}

export async function districtRules(db: Queryable, districtId: number): Promise<DistrictRule[]> {
  const { rows } = await db.query<{ grid_type: GridType; min: number; max: number; target: number; own: boolean }>(
    `SELECT dflt.grid_type, coalesce(own.min_households, dflt.min_households) AS min, coalesce(own.max_households, dflt.max_households) AS max,
            coalesce(own.target_households, dflt.target_households) AS target, own.id IS NOT NULL AS own
     FROM grid_type_rule dflt LEFT JOIN grid_type_rule own ON own.district_id = $1 AND own.grid_type = dflt.grid_type
     WHERE dflt.district_id IS NULL`,
    [districtId],
  );
  const byType = new Map(rows.map((r) => [r.grid_type, r]));
  return GRID_TYPES.filter((t) => byType.has(t)).map((t) => {
    const r = byType.get(t)!;
    return { gridType: t, ...GRID_TYPE_NAMES[t], min: r.min, max: r.max, target: r.target, own: r.own };
  });
}

/**
 * The version of a district's rules: the change log's newest entry for them (0: never changed). A
 * client sends it back with its change, and a change made meanwhile (another admin, an undo) is a 409.
 */
export async function rulesVersion(db: Queryable, districtId: number): Promise<number> {
  const { rows } = await db.query<{ v: number }>(`SELECT coalesce(max(id), 0)::int AS v FROM change WHERE entity = 'grid_type_rule' AND entity_id = $1`, [
    districtId,
  ]);
  return rows[0]!.v;
}

export interface RuleInput {
  gridType: GridType;
  min: number;
  max: number;
  target: number;
}
/** A district's type given back to the plan. */
export interface FollowPlan {
  gridType: GridType;
  followPlan: true;
}
const follows = (r: RuleInput | FollowPlan): r is FollowPlan => 'followPlan' in r;

/** Each type once, each target within its range. */
function checkRuleInput(rules: (RuleInput | FollowPlan)[]): void {
  const seen = new Set<string>();
  rules.forEach((r, i) => {
    if (seen.has(r.gridType)) throw new InputError('duplicate_grid_type', `${r.gridType} is listed twice`, `rules[${i}].gridType`);
    seen.add(r.gridType);
    if (follows(r)) return;
    if (!(r.min <= r.target && r.target <= r.max)) {
      throw new InputError('invalid_range', `the target ${r.target} must lie within ${r.min}–${r.max}`, `rules[${i}]`, { gridType: r.gridType });
    }
  });
}

/**
 * Sets a district's own household ranges (the types given; the others keep theirs). Each range
 * holds its target; logged with what it was, so the change log shows who changed the rules.
 */
export async function setDistrictRules(
  tx: Queryable,
  actor: string,
  districtId: number,
  input: (RuleInput | FollowPlan)[],
  version?: number,
): Promise<DistrictRule[]> {
  checkRuleInput(input);
  const rules = input.filter((r): r is RuleInput => !follows(r));
  const back = input.filter(follows).map((r) => r.gridType);
  const { rows } = await tx.query('SELECT 1 FROM region WHERE id = $1 AND level = $2 FOR UPDATE', [districtId, 'district']);
  if (rows.length === 0) throw notFound('district', districtId);
  // (the district's row is locked: a concurrent change waits, then finds the version moved)
  const current = await rulesVersion(tx, districtId);
  if (version !== undefined && version !== current) {
    throw new InputError('version_conflict', `the rules were changed meanwhile (version ${current}, not ${version}): reload and retry`, 'version', {
      currentVersion: current,
    });
  }
  const before = await districtRules(tx, districtId);
  if (back.length > 0) await tx.query('DELETE FROM grid_type_rule WHERE district_id = $1 AND grid_type = ANY($2::text[])', [districtId, back]);
  await tx.query(
    `INSERT INTO grid_type_rule (district_id, grid_type, min_households, max_households, target_households)
     SELECT $1, t.grid_type, t.lo, t.hi, t.target FROM unnest($2::text[], $3::int[], $4::int[], $5::int[]) AS t(grid_type, lo, hi, target)
     ON CONFLICT (coalesce(district_id, 0), grid_type) DO UPDATE
       SET min_households = EXCLUDED.min_households, max_households = EXCLUDED.max_households, target_households = EXCLUDED.target_households`,
    [districtId, rules.map((r) => r.gridType), rules.map((r) => r.min), rules.map((r) => r.max), rules.map((r) => r.target)],
  );
  const after = await districtRules(tx, districtId);
  // a save that changes nothing is not a change: not logged, the version stays (another admin's open form stays current)
  if (JSON.stringify(after) !== JSON.stringify(before)) {
    await recordChange(tx, { actor, action: 'update', entity: 'grid_type_rule', entityId: districtId, before, after });
  }
  return after;
}

/** The plan's own household ranges: what every district without a rule of its own for a type follows. */
export async function defaultRules(db: Queryable): Promise<DistrictRule[]> {
  const { rows } = await db.query<{ grid_type: GridType; min: number; max: number; target: number }>(
    `SELECT grid_type, min_households AS min, max_households AS max, target_households AS target FROM grid_type_rule WHERE district_id IS NULL`,
  );
  const byType = new Map(rows.map((r) => [r.grid_type, r]));
  return GRID_TYPES.filter((t) => byType.has(t)).map((t) => {
    const r = byType.get(t)!;
    return { gridType: t, ...GRID_TYPE_NAMES[t], min: r.min, max: r.max, target: r.target, own: true };
  });
}

/** The version of the plan's ranges: the change log's newest entry for them (0: never changed). */
export async function defaultRulesVersion(db: Queryable): Promise<number> {
  const { rows } = await db.query<{ v: number }>(`SELECT coalesce(max(id), 0)::int AS v FROM change WHERE entity = 'grid_type_rule' AND entity_id IS NULL`);
  return rows[0]!.v;
}

/** Puts the ranges given in place of the plan's (the types left out keep theirs): one statement, for a change and its undo alike. */
export async function writeDefaultRules(tx: Queryable, rules: RuleInput[]): Promise<void> {
  await tx.query(
    `UPDATE grid_type_rule r SET min_households = t.lo, max_households = t.hi, target_households = t.target
     FROM unnest($1::text[], $2::int[], $3::int[], $4::int[]) AS t(grid_type, lo, hi, target)
     WHERE r.district_id IS NULL AND r.grid_type = t.grid_type`,
    [rules.map((r) => r.gridType), rules.map((r) => r.min), rules.map((r) => r.max), rules.map((r) => r.target)],
  );
}

/**
 * Sets the plan's household ranges (the types given): every district that has no rule of its own
 * for a type follows them from now on. Checked and logged as a district's change is.
 */
export async function setDefaultRules(tx: Queryable, actor: string, rules: RuleInput[], version?: number): Promise<DistrictRule[]> {
  checkRuleInput(rules);
  // (the plan's rows are locked: a concurrent change waits, then finds the version moved)
  await tx.query('SELECT 1 FROM grid_type_rule WHERE district_id IS NULL FOR UPDATE');
  const current = await defaultRulesVersion(tx);
  if (version !== undefined && version !== current) {
    throw new InputError('version_conflict', `the plan's ranges were changed meanwhile (version ${current}, not ${version}): reload and retry`, 'version', {
      currentVersion: current,
    });
  }
  const before = await defaultRules(tx);
  rules.forEach((r, i) => {
    if (!before.some((b) => b.gridType === r.gridType))
      throw new InputError('unknown_grid_type', `the plan has no grid type ${r.gridType}`, `rules[${i}].gridType`);
  });
  await writeDefaultRules(tx, rules);
  const after = await defaultRules(tx);
  if (JSON.stringify(after) !== JSON.stringify(before)) {
    await recordChange(tx, { actor, action: 'update', entity: 'grid_type_rule', entityId: null, before, after });
  }
  return after;
}
