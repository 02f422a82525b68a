import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiContext, cloneTestDb, DRIVERS, type ApiContext } from '../support/db.ts';

for (const driver of DRIVERS) {
  describe(`district rules (${driver})`, () => {
    let ctx: ApiContext;
    let dispose: () => Promise<void>;
    let districtId: number;
    let gridId: number;

    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      dispose = t.dispose;
      ctx = await apiContext(t.db);
      districtId = (await ctx.db.query<{ id: number }>(`SELECT id FROM region WHERE level = 'district' ORDER BY id LIMIT 1`)).rows[0]!.id;
      gridId = (
        await ctx.db.query<{ id: number }>(`SELECT id FROM region WHERE level = 'grid' AND grid_type = 'residential' ORDER BY household_count DESC LIMIT 1`)
      ).rows[0]!.id;
    });
    afterAll(() => dispose());

    it("answers any region with its district's rules, the defaults until the district sets its own", async () => {
      // The demo district runs Zhanyi's own rule: 10 to 25 households in all five types.
      const res = await ctx.request('GET', `/api/regions/${gridId}/rules`);
      expect(res.status).toBe(200);
      expect(res.body.districtId).toBe(districtId);
      expect(res.body.rules.map((r: { min: number; max: number; target: number; own: boolean }) => [r.min, r.max, r.target, r.own])).toEqual(
        Array(5).fill([10, 25, 18, true]),
      );
      // A district without its own rule gets the defaults.
      await ctx.db.query('DELETE FROM grid_type_rule WHERE district_id = $1', [districtId]);
      // (asked of the district, not the grid: the grid's answer is cached, and SQL behind the API's back retires nothing)
      const dflt = await ctx.request('GET', `/api/regions/${districtId}/rules`);
      expect(dflt.body.rules.find((r: { gridType: string }) => r.gridType === 'residential')).toMatchObject({ min: 60, max: 200, own: false });
    });

    it('lets an admin set them (not a planner), refuses a target outside its range, and the coverage check and the overview follow', async () => {
      const version = async () => (await ctx.request('GET', `/api/regions/${districtId}/rules`)).body.version;
      const body = {
        rules: ['scattered', 'residential', 'unit', 'commercial', 'rural'].map((gridType) => ({ gridType, min: 10, max: 25, target: 18 })),
        version: await version(),
      };
      // the version read is required: a save without it would overwrite whatever someone saved meanwhile
      const blind = await ctx.request('PUT', `/api/regions/${districtId}/rules`, { rules: body.rules });
      expect([blind.status, blind.body.error.path]).toEqual([400, 'json.version']);
      expect((await ctx.request('PUT', `/api/regions/${districtId}/rules`, body, { 'x-gridplan-user': 'rule-planner' })).status).toBe(403);
      const bad = await ctx.request('PUT', `/api/regions/${districtId}/rules`, {
        rules: [{ gridType: 'rural', min: 10, max: 25, target: 30 }],
        version: body.version,
      });
      expect([bad.status, bad.body.error.code]).toEqual([422, 'invalid_range']);
      const failingBefore = (await ctx.request('GET', `/api/stats/overview?region=${districtId}`)).body.figures.failingGrids.value;
      const village = (await ctx.db.query<{ parent_id: number }>('SELECT parent_id FROM region WHERE id = $1', [gridId])).rows[0]!.parent_id;
      const coverageBefore = (await ctx.request('GET', `/api/regions/${village}/coverage`)).body.summary.counts.households_out_of_range;
      const res = await ctx.request('PUT', `/api/regions/${districtId}/rules`, body);
      expect(res.status).toBe(200);
      expect(res.body.rules.every((r: { min: number; max: number; own: boolean }) => r.min === 10 && r.max === 25 && r.own)).toBe(true);
      const log = await ctx.request('GET', `/api/changes?limit=1`);
      expect(log.body.items?.[0] ?? log.body[0]).toMatchObject({ entity: 'grid_type_rule', entityId: districtId });
      const coverageAfter = (await ctx.request('GET', `/api/regions/${village}/coverage`)).body.summary.counts.households_out_of_range;
      // (its grids were made to 10–25: under the defaults its residential grids fail, under its own rule none does)
      expect(coverageAfter).toBeLessThan(coverageBefore);
      const overview = (await ctx.request('GET', `/api/stats/overview?region=${districtId}`)).body;
      const failingAfter = overview.figures.failingGrids.value;
      expect(failingAfter).toBeLessThan(failingBefore);
      expect(failingAfter).toBe(0);
      // the month-old record was judged by the rules before: the passing figures are not compared with it, and the wall says why
      await ctx.db.query(
        `INSERT INTO plan_figure (day, region_id, grids, staffed, workers, households, passing, passing_households, passing_area, area)
         VALUES ((now() AT TIME ZONE 'Asia/Shanghai')::date - 40, $1, 100, 100, 100, 1000, 20, 200, 1, 10) ON CONFLICT DO NOTHING`,
        [districtId],
      );
      await ctx.request('PUT', `/api/regions/${districtId}/rules`, { rules: [{ gridType: 'rural', min: 10, max: 26, target: 18 }], version: await version() });
      const judged = (await ctx.request('GET', `/api/stats/overview?region=${districtId}`)).body;
      expect(judged.rulesChanged).toMatch(/^\d{4}-\d{2}-\d{2}$/);
      expect([judged.figures.failingGrids.previous, judged.figures.coverageHouseholds.previous, judged.figures.coverageArea.previous]).toEqual([
        null,
        null,
        null,
      ]);
      expect(judged.figures.grids.previous).not.toBeNull();
    });

    it('refuses a change made from rules that changed meanwhile (409), and writes nothing', async () => {
      const read = (await ctx.request('GET', `/api/regions/${districtId}/rules`)).body;
      const mine = { rules: [{ gridType: 'rural', min: 11, max: 25, target: 18 }], version: read.version };
      const theirs = { rules: [{ gridType: 'rural', min: 12, max: 25, target: 18 }], version: read.version };
      const first = await ctx.request('PUT', `/api/regions/${districtId}/rules`, theirs);
      expect(first.status).toBe(200);
      expect(first.body.version).toBeGreaterThan(read.version);
      const stale = await ctx.request('PUT', `/api/regions/${districtId}/rules`, mine);
      expect([stale.status, stale.body.error.code]).toEqual([409, 'version_conflict']);
      const now = (await ctx.request('GET', `/api/regions/${districtId}/rules`)).body;
      expect(now.rules.find((r: { gridType: string }) => r.gridType === 'rural').min).toBe(12);
      expect(now.version).toBe(first.body.version);
      // from what it now reads, the change goes in
      expect((await ctx.request('PUT', `/api/regions/${districtId}/rules`, { ...mine, version: now.version })).status).toBe(200);
    });

    it("sets the plan's own ranges, which every district without its own rule follows; logged and undone in settings' history", async () => {
      const read = (await ctx.request('GET', '/api/rules/defaults')).body;
      expect(read.rules.find((r: { gridType: string }) => r.gridType === 'residential')).toMatchObject({ min: 60, max: 200, zh: '小区型' });
      // the demo district has all five types of its own: nobody follows the plan's
      expect(read.following).toEqual([]);
      const body = { rules: [{ gridType: 'residential', min: 50, max: 150, target: 100 }], version: read.version };
      expect((await ctx.request('PUT', '/api/rules/defaults', body, { 'x-gridplan-user': 'rule-planner' })).status).toBe(403);
      const bad = await ctx.request('PUT', '/api/rules/defaults', { ...body, rules: [{ gridType: 'residential', min: 50, max: 150, target: 200 }] });
      expect([bad.status, bad.body.error.code]).toEqual([422, 'invalid_range']);
      // the district gives its residential type back to the plan: it follows the plan's range from now on
      const own = (await ctx.request('GET', `/api/regions/${districtId}/rules`)).body;
      const back = await ctx.request('PUT', `/api/regions/${districtId}/rules`, {
        rules: [{ gridType: 'residential', followPlan: true }],
        version: own.version,
      });
      expect(back.status).toBe(200);
      expect(back.body.rules.find((r: { gridType: string }) => r.gridType === 'residential')).toMatchObject({ min: 60, max: 200, own: false });
      expect((await ctx.request('GET', '/api/rules/defaults')).body.following).toEqual([
        { id: districtId, name: expect.any(String), gridTypes: ['residential'] },
      ]);
      const res = await ctx.request('PUT', '/api/rules/defaults', body);
      expect(res.status).toBe(200);
      expect(res.body.rules.find((r: { gridType: string }) => r.gridType === 'residential')).toMatchObject({ min: 50, max: 150, target: 100 });
      const stale = await ctx.request('PUT', '/api/rules/defaults', body);
      expect([stale.status, stale.body.error.code]).toEqual([409, 'version_conflict']);
      // the district follows the new range; its own types keep theirs
      const now = (await ctx.request('GET', `/api/regions/${districtId}/rules`)).body.rules;
      expect(now.find((r: { gridType: string }) => r.gridType === 'residential')).toMatchObject({ min: 50, max: 150, own: false });
      expect(now.find((r: { gridType: string }) => r.gridType === 'rural')).toMatchObject({ own: true });
      // settings' history lists it, and undoes it
      const history = (await ctx.request('GET', '/api/settings/changes')).body;
      const change = (history.items ?? history).find((c: { entity: string; subject: string }) => c.entity === 'grid_type_rule' && c.subject === '');
      expect(change.changed.length).toBeGreaterThan(0);
      const undo = await ctx.request('POST', `/api/settings/changes/${change.id}/undo`);
      expect(undo.status).toBe(200);
      const after = (await ctx.request('GET', '/api/rules/defaults')).body;
      expect(after.rules.find((r: { gridType: string }) => r.gridType === 'residential')).toMatchObject({ min: 60, max: 200 });
      expect(
        (await ctx.request('GET', `/api/regions/${districtId}/rules`)).body.rules.find((r: { gridType: string }) => r.gridType === 'residential'),
      ).toMatchObject({
        min: 60,
        own: false,
      });
    });

    it("keeps the version on a save that changes nothing, and undoes a district's change after a plan-wide one", async () => {
      type Rule = { gridType: string; min: number; max: number; target: number; own: boolean };
      const rulesOf = async () => (await ctx.request('GET', `/api/regions/${districtId}/rules`)).body as { version: number; rules: Rule[] };
      const back = { rules: [{ gridType: 'unit', followPlan: true }] };
      expect((await ctx.request('PUT', `/api/regions/${districtId}/rules`, { ...back, version: (await rulesOf()).version })).status).toBe(200);
      const { version } = await rulesOf();
      // the same again: nothing changes, nothing is logged, the version stays (another admin's open form stays current)
      expect((await ctx.request('PUT', `/api/regions/${districtId}/rules`, { ...back, version })).status).toBe(200);
      expect((await rulesOf()).version).toBe(version);
      const defaults = (await ctx.request('GET', '/api/rules/defaults')).body as { version: number; rules: Rule[] };
      const unit = defaults.rules.find((r) => r.gridType === 'unit')!;
      const as = (max: number) => ({ rules: [{ gridType: 'unit', min: unit.min, max, target: unit.target }], version: defaults.version });
      expect((await ctx.request('PUT', '/api/rules/defaults', as(unit.max))).status).toBe(200);
      expect((await ctx.request('GET', '/api/rules/defaults')).body.version).toBe(defaults.version);
      // a plan-wide change after the district's: the district's still undoes (its own ranges have not moved since)
      expect((await ctx.request('PUT', '/api/rules/defaults', as(unit.max + 5))).status).toBe(200);
      const history = (await ctx.request('GET', '/api/settings/changes')).body;
      const items = (history.items ?? history) as { id: number; entity: string; subject: string }[];
      const mine = items.find((c) => c.entity === 'grid_type_rule' && c.subject !== '')!;
      const undo = await ctx.request('POST', `/api/settings/changes/${mine.id}/undo`);
      expect(undo.status).toBe(200);
      expect((await rulesOf()).rules.find((r) => r.gridType === 'unit')).toMatchObject({ own: true });
    });
  });
}
