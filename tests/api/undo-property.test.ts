import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiContext, cloneTestDb, DRIVERS, type ApiContext } from '../support/db.ts';

/** One planner's step: an edit of the village's grids, or undo, or redo. */
type Step =
  | { kind: 'rename'; pick: number }
  | { kind: 'retype'; pick: number }
  | { kind: 'split'; pick: number }
  | { kind: 'merge'; pick: number }
  | { kind: 'delete'; pick: number }
  | { kind: 'autosplit' }
  | { kind: 'undo' }
  | { kind: 'redo' };

const pick = fc.nat({ max: 1_000 });
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 2, arbitrary: pick.map((p) => ({ kind: 'rename' as const, pick: p })) },
  { weight: 1, arbitrary: pick.map((p) => ({ kind: 'retype' as const, pick: p })) },
  { weight: 2, arbitrary: pick.map((p) => ({ kind: 'split' as const, pick: p })) },
  { weight: 2, arbitrary: pick.map((p) => ({ kind: 'merge' as const, pick: p })) },
  { weight: 1, arbitrary: pick.map((p) => ({ kind: 'delete' as const, pick: p })) },
  { weight: 1, arbitrary: fc.constant({ kind: 'autosplit' as const }) },
  { weight: 4, arbitrary: fc.constant({ kind: 'undo' as const }) },
  { weight: 3, arbitrary: fc.constant({ kind: 'redo' as const }) },
);

const RUNS = Number(process.env.UNDO_PROPERTY_RUNS ?? 12);

for (const driver of DRIVERS) {
  describe(`undo and redo walk one history (${driver})`, () => {
    let ctx: ApiContext;
    let dispose: () => Promise<void>;
    let villages: number[];
    let run = 0;

    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      dispose = t.dispose;
      ctx = await apiContext(t.db);
      villages = (
        await ctx.db.query<{ id: number }>(
          `SELECT v.id FROM region v WHERE v.level = 'village' AND (SELECT count(*) FROM region g WHERE g.parent_id = v.id) BETWEEN 3 AND 12 ORDER BY v.code`,
        )
      ).rows.map((r) => r.id);
      expect(villages.length).toBeGreaterThan(5);
    });
    afterAll(() => dispose());

    /** Everything an operation changes in a village, without the versions (undo and redo raise them). */
    const state = async (village: number) =>
      (
        await ctx.db.query<Record<string, unknown>>(
          `SELECT g.id, g.code, g.name, g.grid_type, g.worker_id, g.household_count, encode(ST_AsEWKB(g.geom), 'hex') AS geom,
              (SELECT count(*)::int FROM household h WHERE h.region_id = g.id) AS assigned,
              (SELECT coalesce(json_agg(json_build_object('w', s.worker_id, 'r', s.role) ORDER BY s.role, s.worker_id), '[]') FROM grid_staff s
                WHERE s.grid_id = g.id) AS staff
       FROM region g WHERE g.parent_id = $1 ORDER BY g.id`,
          [village],
        )
      ).rows;

    /**
     * A version names one state of a region for good: an editor that read it saves against it, so an
     * undo that gave an earlier state back under a number already handed out would let a stale save in.
     */
    const named = new Map<string, string>();
    const versionsNameOneState = async (village: number, after: string) => {
      const { rows } = await ctx.db.query<{ id: number; version: number; s: string }>(
        `SELECT g.id, g.version, md5(g.name || coalesce(g.grid_type, '') || coalesce(g.worker_id::text, '') || encode(ST_AsEWKB(g.geom), 'hex')) AS s
         FROM region g WHERE g.parent_id = $1`,
        [village],
      );
      for (const r of rows) {
        const key = `${r.id}@${r.version}`;
        expect(named.get(key) ?? r.s, `${after}: region ${r.id} at version ${r.version} is another state than before`).toBe(r.s);
        named.set(key, r.s);
      }
    };

    it('gives back, after every undo and redo, exactly the state a replay of the history says', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(step, { minLength: 3, maxLength: 12 }), async (steps) => {
          const village = villages[run % villages.length]!;
          const who = { 'x-gridplan-user': `undo-prop-${driver}-${run++}` };
          // the model: the states the history passed through, and where the planner stands in it
          const history = [await state(village)];
          let at = 0;
          const grids = async () => (await ctx.request('GET', `/api/regions/${village}/children`)).body.features as any[];
          for (const s of steps) {
            let res: { status: number; body: any } | null = null;
            const list = await grids();
            const g = list.length ? list[('pick' in s ? s.pick : 0) % list.length] : undefined;
            if (s.kind === 'undo' || s.kind === 'redo') {
              res = await ctx.request('POST', `/api/changes/${s.kind}`, undefined, who);
              const possible = s.kind === 'undo' ? at > 0 : at < history.length - 1;
              expect(res.status, `${s.kind} at ${at} of ${history.length - 1}: ${JSON.stringify(res.body).slice(0, 200)}`).toBe(possible ? 200 : 409);
              if (possible) at += s.kind === 'undo' ? -1 : 1;
              expect(await state(village), `after ${s.kind}`).toEqual(history[at]);
              await versionsNameOneState(village, s.kind);
              continue;
            }
            if (!g && s.kind !== 'autosplit') continue;
            const v = g?.properties.version;
            if (s.kind === 'rename') res = await ctx.request('PATCH', `/api/regions/${g.id}`, { version: v, name: `改名${at}-${g.id}` }, who);
            if (s.kind === 'retype')
              res = await ctx.request(
                'PATCH',
                `/api/regions/${g.id}`,
                { version: v, gridType: g.properties.gridType === 'rural' ? 'residential' : 'rural' },
                who,
              );
            if (s.kind === 'delete') res = await ctx.request('DELETE', `/api/regions/${g.id}?version=${v}`, undefined, who);
            if (s.kind === 'split') {
              const [x0, y0, x1, y1] = (await ctx.request('GET', `/api/regions/${g.id}`)).body.properties.bbox;
              const x = (x0 + x1) / 2;
              res = await ctx.request(
                'POST',
                `/api/regions/${g.id}/split`,
                {
                  version: v,
                  line: {
                    type: 'LineString',
                    coordinates: [
                      [x, y0 - 0.001],
                      [x, y1 + 0.001],
                    ],
                  },
                },
                who,
              );
            }
            if (s.kind === 'merge') {
              const other = list.find((o) => o.id !== g.id);
              if (!other) continue;
              res = await ctx.request('POST', '/api/regions/merge', { ids: [g.id, other.id], versions: [v, other.properties.version] }, who);
            }
            if (s.kind === 'autosplit') res = await ctx.request('POST', `/api/regions/${village}/autosplit`, { commit: true }, who);
            expect(res!.status, `${s.kind}: ${JSON.stringify(res!.body).slice(0, 200)}`).toBeLessThan(500);
            if (res!.status < 300) {
              // a new operation ends the redo branch
              history.splice(at + 1, history.length, await state(village));
              at++;
              await versionsNameOneState(village, s.kind);
            } else {
              expect(await state(village), `a refused ${s.kind} changes nothing`).toEqual(history[at]);
            }
          }
        }),
        {
          numRuns: RUNS,
          // The reported case: accept an auto-split, Ctrl+Z, Ctrl+Shift+Z, Ctrl+Z.
          examples: [
            [[{ kind: 'autosplit' }, { kind: 'undo' }, { kind: 'redo' }, { kind: 'undo' }, { kind: 'undo' }]],
            [[{ kind: 'retype', pick: 0 }, { kind: 'autosplit' }, { kind: 'undo' }, { kind: 'undo' }, { kind: 'redo' }, { kind: 'undo' }]],
          ],
        },
      );
    });
  });
}
