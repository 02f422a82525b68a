import { createRoute, z } from '@hono/zod-openapi';
import { comparePlans, type PlanSide } from '../db/compare.ts';
import { regionAt } from '../db/region-queries.ts';
import { InputError } from '../domain/errors.ts';
import { asOfInstant } from '../domain/plan-time.ts';
import { maySee, versionById, versionInstant } from '../db/draft-review.ts';
import { draftById } from '../db/drafts.ts';
import { notFound } from '../domain/errors.ts';
import { canAny, type Principal } from '../domain/roles.ts';
import { principalOf } from '../http/auth.ts';
import { cached, never } from '../http/cache.ts';
import { nowOf, router } from '../http/router.ts';
import type { Queryable } from '../db/db.ts';
import { limited } from '../http/heavy.ts';
import { errorResponses, json } from './schemas.ts';

const Side = z
  .string()
  .regex(/^(live|date:\d{4}-\d{2}-\d{2}|draft:[1-9]\d{0,8}|version:[1-9]\d{0,8})$/, 'live, date:YYYY-MM-DD, draft:ID or version:ID')
  .openapi({
    description:
      '`live` (the plan now), `date:YYYY-MM-DD` (as it stood at the end of that day), `draft:ID` (a draft) or `version:ID` (as a published version made it)',
    example: 'date:2026-05-01',
  });

const Grid = z.object({
  id: z.number().int(),
  code: z.string(),
  name: z.string(),
  gridType: z.string().nullable(),
  parentId: z.number().int(),
  households: z.number().int(),
  workerId: z.number().int().nullable(),
});
const Ref = z.object({ id: z.number().int(), code: z.string(), name: z.string() }).nullable();
const Figures = z.object({
  label: z.string(),
  grids: z.number().int(),
  households: z.number().int(),
  perGrid: z.number().nullable(),
  inRange: z.number().nullable().openapi({ description: 'share of grids within the district’s current household range' }),
});

/** The two sides of a comparison and the region compared. */
export const CompareQuery = z.object({
  region: z.coerce
    .number()
    .int()
    .positive()
    .max(2 ** 31 - 1),
  a: Side,
  b: Side.default('live'),
});

const compareRoute = createRoute({
  method: 'get',
  path: '/compare',
  summary: 'Two plans of a region side by side: grids added, removed, reshaped, renamed, retyped or moved to another village; households moved',
  description:
    'Grids are matched by id, and a grid that went by the new grid continuing it (the one sharing most of its households, greedily, as ' +
    'auto-split counts; with none shared, the one holding most of its area and it most of theirs): that pair is one changed grid ' +
    '(before.id differs from after.id), not one removed and one added. Households are counted as they lie today within each plan’s grids, ' +
    'so the comparison shows what the plan change did to the same people. Up to 2,000 grids per list and the 500 largest moves.',
  request: { query: CompareQuery },
  responses: {
    200: {
      description: 'The comparison',
      ...json(
        z
          .object({
            regionId: z.number().int(),
            a: Figures,
            b: Figures,
            added: z.array(z.unknown()).openapi({ description: 'GeoJSON features of grids only in b' }),
            removed: z.array(z.unknown()).openapi({ description: 'GeoJSON features of grids only in a' }),
            changed: z.array(
              z.object({
                id: z.number().int(),
                code: z.string(),
                name: z.string(),
                changes: z.array(z.enum(['shape', 'code', 'name', 'type', 'village', 'worker', 'staff'])).openapi({
                  description:
                    'what changed: shape, code, name, type, village (moved to another), worker (the full-time grid worker), ' +
                    'staff (the other members; not known of past days)',
                }),
                before: Grid,
                after: Grid,
                geometry: z.unknown().optional().openapi({ description: 'the new shape (GeoJSON), when it changed' }),
              }),
            ),
            moves: z.array(z.object({ from: Ref, to: Ref, households: z.number().int() })),
            movedHouseholds: z.number().int(),
          })
          .openapi('PlanComparison'),
      ),
    },
    ...errorResponses(400, 404),
  },
});

/**
 * A side as asked: today's plan for `live` and for a day not over yet; a day before the plan's
 * history begins is refused (nothing is known of the plan then, and an empty plan compared with a
 * district costs the most of all).
 */
export async function sideOf(db: Queryable, s: string, path: string, now: Date, who: Principal): Promise<PlanSide> {
  if (s === 'live') return { label: 'live', at: null };
  if (s.startsWith('draft:')) {
    const id = Number(s.slice(6));
    const d = await draftById(db, id);
    if (!d || !canAny(who.role, ['plan:write', 'plan:review']) || !(await maySee(db, who, d.regionId))) throw notFound('draft', id, path);
    if (d.status === 'published' || d.status === 'withdrawn') {
      throw new InputError(
        'draft_state',
        `the draft “${d.name}” is ${d.status}: its copy is gone${d.status === 'published' ? ' (compare its version instead)' : ''}`,
        path,
      );
    }
    return { label: `${d.name}`, at: null, draft: id };
  }
  if (s.startsWith('version:')) {
    const v = await versionById(db, Number(s.slice(8)));
    if (!v) throw notFound('version', Number(s.slice(8)), path);
    return { label: `${v.name} (v${v.id})`, at: versionInstant(v) };
  }
  const at = asOfInstant(s.slice(5), path)!;
  if (at.getTime() > now.getTime()) return { label: 'live', at: null };
  const { rows } = await db.query<{ first: string | null; known: boolean | null }>(
    `SELECT to_char(min(valid_from) AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD') AS first, min(valid_from) < $1::timestamptz AS known FROM region_history`,
    [at.toISOString()],
  );
  const first = rows[0]?.first ?? null;
  if (!rows[0]?.known) throw new InputError('before_history', `the plan's history begins on ${first ?? 'no day yet'}: compare a day from then on`, path);
  return { label: s, at };
}

export function compareRoutes() {
  return router().openapi(compareRoute, async (c) => {
    const { region, a, b } = c.req.valid('query');
    const db = c.get('db');
    // a day after today is today's plan; one before history is refused — before the cache, so neither makes new work
    const [sa, sb] = [await sideOf(db, a, 'a', nowOf(c), principalOf(c)), await sideOf(db, b, 'b', nowOf(c), principalOf(c))];
    const compute = async () => {
      if (!(await regionAt(db, region, sa.at)) && !(await regionAt(db, region, sb.at))) {
        throw new InputError('not_found', `region ${region} is in neither plan`, 'region');
      }
      // one comparison at a time per person, four in all (the same limit as files): 429 beyond
      return c.json(await limited(c, () => comparePlans(db, region, sa, sb)), 200);
    };
    // a draft changes without the live plan: its comparisons are never kept
    return sa.draft || sb.draft ? compute() : cached(c, { reads: () => ['plan', 'plan*', 'layout'], clock: never }, compute);
  });
}
