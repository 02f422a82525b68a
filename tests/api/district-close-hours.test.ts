import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiContext, cloneTestDb, DRIVERS, type ApiContext } from '../support/db.ts';

/** A district's own time to close a case: what its changes and their undo keep (found by an attacker's pass over the settings). */
for (const driver of DRIVERS) {
  describe(`a district's own close hours (${driver})`, () => {
    let ctx: ApiContext;
    let dispose: () => Promise<void>;
    let district: number;
    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      dispose = t.dispose;
      ctx = await apiContext(t.db, { cache: false });
      district = (await ctx.db.query<{ id: number }>(`SELECT id FROM region WHERE level = 'district' ORDER BY id LIMIT 1`)).rows[0]!.id;
    });
    afterAll(() => dispose());

    const read = async () => (await ctx.request('GET', `/api/regions/${district}/deadlines`)).body;
    const cat = (b: any, code: string) => b.categories.find((c: any) => c.code === code);
    const put = (categories: unknown, version: number) => ctx.request('PUT', `/api/regions/${district}/deadlines`, { categories, version });
    const lastEntry = async () =>
      (await ctx.request('GET', '/api/settings/changes?limit=20')).body.find((c: any) => c.entity === 'district_deadline' && !c.undone);
    const closeRows = async (category: string) =>
      (await ctx.db.query(`SELECT hours FROM district_close_hours WHERE district_id = $1 AND category = $2`, [district, category])).rows;
    /** Back to the plan's for the category. */
    const reset = async (code: string) => {
      const r = await read();
      if (cat(r, code).own) expect((await put([{ code, deadlines: null }], r.version)).status).toBe(200);
    };

    it("keeps the plan's close hours the plan's when a category's own four are set without them", async () => {
      await reset('hazard');
      const r0 = await read();
      const hz = cat(r0, 'hazard');
      const set = await put([{ code: 'hazard', deadlines: hz.defaults }], r0.version);
      expect(set.status, JSON.stringify(set.body)).toBe(200);
      expect(cat(set.body, 'hazard')).toMatchObject({ own: true, closeOwn: false, closeHours: hz.defaultCloseHours });
      expect(await closeRows('hazard')).toEqual([]);
      // close hours without the four: refused, said where
      const bad = await put([{ code: 'fire', deadlines: null, closeHours: 6 }], set.body.version);
      expect([bad.status, bad.body.error?.code, bad.body.error?.path]).toEqual([422, 'invalid_deadlines', 'categories[0].closeHours']);
    });

    it("counts a case overdue on the wall by its district's own hours", async () => {
      await reset('hazard');
      const { rows } = await ctx.db.query<{ x: number; y: number }>(
        `SELECT ST_X(h.geom) AS x, ST_Y(h.geom) AS y FROM household h WHERE h.region_id IS NOT NULL ORDER BY h.id LIMIT 1`,
      );
      const at = new Date(Date.now() - 7 * 3_600_000).toISOString();
      const made = await ctx.request('POST', '/api/incidents', {
        lon: rows[0]!.x,
        lat: rows[0]!.y,
        category: 'hazard',
        severity: 1,
        description: '井盖缺失',
        reportedAt: at,
      });
      expect(made.status, JSON.stringify(made.body)).toBe(201);
      const overdue = async () => (await ctx.request('GET', `/api/stats/overview?region=${district}`)).body.figures.overdue.value as number;
      const before = await overdue();
      const r = await read();
      expect((await put([{ code: 'hazard', deadlines: cat(r, 'hazard').defaults, closeHours: 6 }], r.version)).status).toBe(200);
      // (this case and the district's other open hazards between 6 hours and the plan's days old)
      const { rows: open } = await ctx.db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM incident i JOIN incident_category k ON k.code = i.category WHERE i.category = 'hazard'
           AND i.status IN ('reported', 'dispatched') AND i.void_kind IS NULL AND i.grid_id IS NOT NULL
           AND i.reported_at < now() - interval '6 hours' AND i.reported_at >= now() - make_interval(hours => k.deadline_hours)
           AND NOT EXISTS (SELECT 1 FROM dispatch d WHERE d.incident_id = i.id AND d.resolved_at IS NULL AND d.returned_at IS NULL AND d.due_at < now())`,
      );
      expect(open[0]!.n).toBeGreaterThanOrEqual(1);
      expect(await overdue()).toBe(before + open[0]!.n);
      await reset('hazard');
      expect(await overdue()).toBe(before);
    });

    it('refuses to undo a change of the close hours that a later change has moved on (409)', async () => {
      await reset('hazard');
      const r0 = await read();
      const hz = cat(r0, 'hazard');
      const e1 = await put([{ code: 'hazard', deadlines: hz.defaults, closeHours: 48 }], r0.version);
      expect(e1.status).toBe(200);
      const entry1 = await lastEntry();
      const e2 = await put([{ code: 'hazard', deadlines: hz.defaults, closeHours: 6 }], e1.body.version);
      expect(cat(e2.body, 'hazard').closeHours).toBe(6);
      expect((await ctx.request('POST', `/api/settings/changes/${entry1.id}/undo`)).status).toBe(409);
      expect(await closeRows('hazard')).toEqual([{ hours: 6 }]);
    });

    it('undoing a change logged before close hours were kept leaves the close hours it never set', async () => {
      await reset('hazard');
      await reset('fire');
      const r0 = await read();
      const setH = await put([{ code: 'hazard', deadlines: cat(r0, 'hazard').defaults, closeHours: 6 }], r0.version);
      const e1 = await put([{ code: 'fire', deadlines: cat(r0, 'fire').defaults }], setH.body.version);
      expect(e1.status).toBe(200);
      const entry1 = await lastEntry();
      // the entry as it was logged before migration 059: its model says nothing of close hours
      await ctx.db.query(
        `UPDATE change SET
           before = jsonb_set(before, '{model}', (SELECT jsonb_agg(e - $2::text[]) FROM jsonb_array_elements(before->'model') e)),
           after = jsonb_set(after, '{model}', (SELECT jsonb_agg(e - $2::text[]) FROM jsonb_array_elements(after->'model') e))
         WHERE id = $1`,
        [entry1.id, ['closeHours', 'defaultCloseHours', 'closeOwn']],
      );
      const undone = await ctx.request('POST', `/api/settings/changes/${entry1.id}/undo`);
      expect(undone.status, JSON.stringify(undone.body)).toBe(200);
      const now = await read();
      expect(cat(now, 'fire').own).toBe(false);
      expect(cat(now, 'hazard')).toMatchObject({ own: true, closeOwn: true, closeHours: 6 });
    });
  });
}
