import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { publishDue } from '../../server/db/draft-review.ts';
import { apiContext, cloneTestDb, DRIVERS, type ApiContext } from '../support/db.ts';

/** Plan versions §1–§4: drafts, review across levels, publication, 409 and rebase, the plan before and after. */
for (const driver of DRIVERS) {
  describe(`drafts and their publication (${driver})`, () => {
    let ctx: ApiContext;
    let dispose: () => Promise<void>;
    type Who = { cookie: string };
    let author: Who, townReviewer: Who, approver: Who, analyst: Who, stranger: Who;
    let villages: { id: number; township: number; name: string }[];

    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      dispose = t.dispose;
      ctx = await apiContext(t.db);
      // The test plan was made today: say it has stood as it is since New Year.
      await ctx.db.query('DELETE FROM region_history WHERE valid_to IS NOT NULL');
      await ctx.db.query(`UPDATE region_history SET valid_from = '2026-01-01T00:00:00+08:00'`);
      // villages with a few grids, the first with incidents in them
      villages = (
        await ctx.db.query<{ id: number; township: number; name: string }>(
          `SELECT v.id, v.parent_id AS township, v.name FROM region v
           WHERE v.level = 'village' AND (SELECT count(*) FROM region g WHERE g.parent_id = v.id) BETWEEN 2 AND 40
             AND v.parent_id = (SELECT t.id FROM region t WHERE t.level = 'township'
                                ORDER BY (SELECT count(*) FROM region x WHERE x.parent_id = t.id) DESC, t.id LIMIT 1)
           ORDER BY (SELECT count(*) FROM incident i JOIN region g ON g.id = i.grid_id WHERE g.parent_id = v.id) DESC, v.id LIMIT 3`,
        )
      ).rows;
      const township = villages[0]!.township;
      const other = (await ctx.db.query<{ id: number }>(`SELECT id FROM region WHERE level = 'township' AND id <> $1 ORDER BY id LIMIT 1`, [township])).rows[0]!
        .id;
      author = await ctx.cookie({ username: 'draft.author', role: 'planner', regionId: township });
      townReviewer = await ctx.cookie({ username: 'town.reviewer', role: 'planner', regionId: township });
      approver = await ctx.cookie({ username: 'district.leader', role: 'leader', regionId: null });
      analyst = await ctx.cookie({ username: 'draft.analyst', role: 'analyst', regionId: null });
      stranger = await ctx.cookie({ username: 'other.planner', role: 'planner', regionId: other });
      expect(villages.length).toBe(3);
    });
    afterAll(() => dispose());

    const grids = async (parent: number) =>
      (
        await ctx.db.query<{ id: number; name: string; version: number; code: string }>(
          'SELECT id, name, version, code FROM region WHERE parent_id = $1 ORDER BY id',
          [parent],
        )
      ).rows;
    const approveAll = async (id: number, effectiveFrom?: string, last: Who = approver) => {
      const first = await ctx.request('POST', `/api/drafts/${id}/review`, { decision: 'approve', comment: '同意' }, townReviewer);
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      expect(first.body.status).toBe('submitted');
      return ctx.request('POST', `/api/drafts/${id}/review`, { decision: 'approve', comment: '批准', ...(effectiveFrom ? { effectiveFrom } : {}) }, last);
    };

    it('is a working copy: auto-split, coverage and undo run on it; the live plan and its log stay as they were', async () => {
      const village = villages[0]!;
      const liveBefore = await grids(village.id);
      const changesBefore = (await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM change')).rows[0]!.n;
      // (people are named as the header names them: the display name, else the login)
      await ctx.db.query(`UPDATE app_user SET display_name = '草稿作者' WHERE username = 'draft.author'`);
      const made = await ctx.request('POST', '/api/drafts', { regionId: village.id, name: '重划网格方案' }, author);
      expect(made.status, JSON.stringify(made.body)).toBe(201);
      expect(made.body).toMatchObject({ status: 'editing', createdBy: 'draft.author', createdByName: '草稿作者', regionId: village.id, conflicts: [] });
      expect(made.body.events[0]).toMatchObject({ actor: 'draft.author', actorName: '草稿作者', kind: 'create' });
      expect(made.body.steps.map((s: { zh: string }) => s.zh)).toEqual(['乡镇审核', '区县审批']);
      const id = made.body.id;

      const children = await ctx.request('GET', `/api/regions/${village.id}/children?draft=${id}`, undefined, author);
      expect(children.body.features.map((f: { id: number }) => f.id)).toEqual(
        liveBefore
          .map((g) => g.id)
          .sort((a, b) => a - b)
          .filter((x) => children.body.features.some((f: { id: number }) => f.id === x)),
      );
      expect(children.body.features.length).toBe(liveBefore.length);

      const split = await ctx.request('POST', `/api/regions/${village.id}/autosplit?draft=${id}`, { commit: true, target: 12 }, author);
      expect(split.status, JSON.stringify(split.body).slice(0, 300)).toBe(200);
      const newIds: number[] = split.body.committed.ids;
      const inDraft = await ctx.request('GET', `/api/regions/${village.id}/children?draft=${id}`, undefined, author);
      expect(inDraft.body.features.map((f: { id: number }) => f.id).sort()).toEqual([...newIds].sort());
      const coverage = await ctx.request('GET', `/api/regions/${village.id}/coverage?draft=${id}`, undefined, author);
      expect(coverage.status).toBe(200);
      expect(coverage.body.issues.features.filter((f: { properties: { kind: string } }) => ['gap', 'overlap', 'outside'].includes(f.properties.kind))).toEqual(
        [],
      );
      // the township's list counts the draft's grids in it, the live plan's its own
      const township = (await ctx.request('GET', `/api/regions/${village.id}`, undefined, author)).body.properties.parentId;
      const partOf = async (draft: string) =>
        ((await ctx.request('GET', `/api/regions/${township}/parts${draft}`, undefined, author)).body.parts as { id: number; grids: number }[]).find(
          (p) => p.id === village.id,
        )?.grids;
      expect([await partOf(`?draft=${id}`), await partOf('')]).toEqual([newIds.length, liveBefore.length]);
      // the live plan and its change log did not move
      expect(await grids(village.id)).toEqual(liveBefore);
      expect((await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM change')).rows[0]!.n).toBe(changesBefore);
      const live = await ctx.request('GET', `/api/regions/${village.id}/children`, undefined, author);
      expect(live.body.features.length).toBe(liveBefore.length);

      // its own undo: back to the copy, and forward again
      const undo = await ctx.request('POST', `/api/changes/undo?draft=${id}`, undefined, author);
      expect([undo.status, undo.body.action]).toEqual([200, 'autosplit']);
      expect((await ctx.request('GET', `/api/regions/${village.id}/children?draft=${id}`, undefined, author)).body.features.length).toBe(liveBefore.length);
      expect((await ctx.request('POST', `/api/changes/redo?draft=${id}`, undefined, author)).status).toBe(200);
      expect((await ctx.request('POST', '/api/changes/undo', undefined, author)).status).toBe(409); // nothing of theirs live

      // compared with today's plan: each old grid continues as the new grid holding most of its households (a
      // change, under its new id), or goes; the other new ones come; households move
      const cmp = await ctx.request('GET', `/api/compare?region=${village.id}&a=live&b=draft:${id}`, undefined, author);
      expect(cmp.status, JSON.stringify(cmp.body).slice(0, 300)).toBe(200);
      type Changed = { id: number; changes: string[]; before: { id: number }; after: { id: number } };
      const continued: Changed[] = cmp.body.changed.filter((c: Changed) => c.before.id !== c.after.id);
      expect(continued.length).toBeGreaterThan(0);
      expect(new Set(continued.map((c) => c.before.id)).size).toBe(continued.length);
      // a grid continued keeps its number, so its code and name: the split renumbers only the grids it adds
      expect(continued.filter((c) => c.changes.includes('code') || c.changes.includes('name'))).toEqual([]);
      expect(continued.every((c) => liveBefore.some((g) => g.id === c.before.id) && newIds.includes(c.after.id) && c.id === c.after.id)).toBe(true);
      const oldIds = (features: { id: number }[]) => features.map((f) => f.id);
      expect(new Set([...oldIds(cmp.body.removed), ...continued.map((c) => c.before.id)]).size).toBe(liveBefore.length);
      expect(new Set([...oldIds(cmp.body.added), ...continued.map((c) => c.after.id)]).size).toBe(newIds.length);
      expect(cmp.body.b.households).toBe(cmp.body.a.households);
      // every household is in one of the draft's new grids (none left filed under a grid the split removed)
      expect(cmp.body.moves.filter((m: { to: unknown }) => m.to === null)).toEqual([]);
      // the households that changed grid: as many as auto-split said it would move (a grid's household staying in
      // its continuation, a new grid under the old code, is no move), and no grid "moves" to its own name
      expect(cmp.body.movedHouseholds).toBe(split.body.summary.householdsMoved);
      expect(cmp.body.moves.filter((m: { from: { name: string } | null; to: { name: string } | null }) => m.from?.name === m.to?.name)).toEqual([]);
      expect(inDraft.body.features.every((f: { properties: { households: number } }) => f.properties.households > 0)).toBe(true);

      // submitted: locked for edits; decided by the township, then the district; never by its author
      expect((await ctx.request('POST', `/api/drafts/${id}/submit`, { note: '请审核' }, author)).body.status).toBe('submitted');
      const locked = await ctx.request('PATCH', `/api/regions/${newIds[0]}?draft=${id}`, { version: 1, name: '改不了' }, author);
      expect([locked.status, locked.body.error.code]).toEqual([409, 'draft_locked']);
      const own = await ctx.request('POST', `/api/drafts/${id}/review`, { decision: 'approve', comment: '' }, author);
      expect(own.status).toBe(403);
      const awaiting = await ctx.request('GET', '/api/drafts?awaiting=me', undefined, townReviewer);
      expect(awaiting.body.map((d: { id: number }) => d.id)).toContain(id);
      expect((await ctx.request('GET', '/api/drafts?awaiting=me', undefined, stranger)).body).toEqual([]);
      const incidentsBefore = (
        await ctx.db.query<{ id: number; grid_id: number | null; filed_grid_id: number | null }>(
          'SELECT i.id, i.grid_id, i.filed_grid_id FROM incident i JOIN region g ON g.id = i.grid_id WHERE g.parent_id = $1 ORDER BY i.id',
          [village.id],
        )
      ).rows;
      const published = await approveAll(id);
      expect(published.status, JSON.stringify(published.body).slice(0, 400)).toBe(200);
      expect(published.body).toMatchObject({ status: 'published', draft: { status: 'published' } });
      expect((await grids(village.id)).map((g) => g.id).sort()).toEqual([...newIds].sort());
      // incidents keep the grid they were filed in, and show the one they lie in now
      if (incidentsBefore.length > 0) {
        const after = (
          await ctx.db.query<{ grid_id: number; filed_grid_id: number }>('SELECT grid_id, filed_grid_id FROM incident WHERE id = ANY($1::int[]) ORDER BY id', [
            incidentsBefore.map((i) => i.id),
          ])
        ).rows;
        expect(after.map((i) => i.filed_grid_id)).toEqual(incidentsBefore.map((i) => i.filed_grid_id));
        expect(after.every((i) => newIds.includes(i.grid_id))).toBe(true);
      }
      // the copy is gone; the version stays, with who and why
      const versions = await ctx.request('GET', `/api/versions?region=${village.id}`, undefined, approver);
      expect(versions.body[0]).toMatchObject({
        draftId: id,
        publishedBy: 'district.leader',
        approvedBy: 'district.leader',
        publishedByName: 'district.leader',
        approvedByName: 'district.leader',
        gridsAdded: newIds.length,
        gridsRemoved: liveBefore.length,
      });
      expect((await ctx.db.query(`SELECT 1 FROM pg_namespace WHERE nspname = $1`, [`gp_draft_${id}`])).rows).toEqual([]);
      // a print of the village (or of one of its grids) names the version in force, as the version list does
      for (const printed of [village.id, newIds[0]]) {
        const print = await ctx.request('GET', `/api/regions/${printed}/print`, undefined, approver);
        expect(print.body.version.published).toMatchObject({ id: versions.body[0].id, name: versions.body[0].name });
      }
      const elsewhere = await ctx.request('GET', `/api/regions/${villages[1]!.id}/print`, undefined, approver);
      expect(elsewhere.body.version.published).toBeNull();
      // and is stamped with the latest change to it, which the publication elsewhere is not
      const here = await ctx.request('GET', `/api/regions/${village.id}/print`, undefined, approver);
      expect(elsewhere.body.version.op ?? 0).toBeLessThan(here.body.version.op);
      // the plan before the publication is still there to read and compare
      const before = await ctx.request('GET', `/api/regions/${village.id}/children?asOf=2026-06-01`, undefined, approver);
      expect(before.body.features.map((f: { id: number }) => f.id).sort()).toEqual(liveBefore.map((g) => g.id).sort());
      const byVersion = await ctx.request('GET', `/api/compare?region=${village.id}&a=date:2026-06-01&b=version:${versions.body[0].id}`, undefined, approver);
      // the same pairs as the draft's comparison: each old grid gone or continued as one of the new
      expect(byVersion.body.changed.map((c: Changed) => [c.before.id, c.after.id])).toEqual(continued.map((c) => [c.before.id, c.after.id]));
      expect([byVersion.body.removed.length, byVersion.body.added.length]).toEqual([liveBefore.length - continued.length, newIds.length - continued.length]);
    });

    it('keeps its doors shut: other routes, other regions, its own outline, people who neither plan nor review', async () => {
      const village = villages[1]!;
      const made = await ctx.request('POST', '/api/drafts', { regionId: village.id, name: '门禁' }, author);
      expect(made.status, JSON.stringify(made.body)).toBe(201);
      const id = made.body.id;
      const [grid] = await grids(village.id);
      const elsewhere = (
        await ctx.db.query<{ id: number; version: number }>(`SELECT id, version FROM region WHERE level = 'grid' AND parent_id <> $1 LIMIT 1`, [village.id])
      ).rows[0]!;
      const cases: [string, string, unknown, Who, number, string][] = [
        ['PATCH', `/api/regions/${elsewhere.id}?draft=${id}`, { version: elsewhere.version, name: 'x' }, author, 403, 'outside_scope'],
        ['PATCH', `/api/regions/${village.id}?draft=${id}`, { version: 1, name: 'x' }, author, 403, 'outside_scope'],
        ['GET', `/api/versions?draft=${id}`, undefined, author, 400, 'draft_not_here'],
        ['POST', `/api/regions/import?draft=${id}`, {}, author, 400, 'draft_not_here'],
        ['GET', `/api/regions/${village.id}/children?draft=${id}`, undefined, analyst, 403, 'forbidden'],
        ['GET', `/api/regions/${village.id}/children?draft=${id}`, undefined, stranger, 404, 'not_found'],
        ['GET', `/api/drafts/${id}`, undefined, stranger, 404, 'not_found'],
        ['GET', `/api/compare?region=${village.id}&a=live&b=draft:${id}`, undefined, analyst, 404, 'not_found'],
        ['GET', `/api/regions/${village.id}/children?draft=abc`, undefined, author, 400, 'invalid_draft'],
        ['GET', `/api/regions/${village.id}/children?draft=999999`, undefined, author, 404, 'not_found'],
        ['POST', '/api/drafts', { regionId: grid!.id, name: '网格草稿' }, author, 422, 'invalid_level'],
        ['POST', '/api/drafts', { regionId: village.id, name: '' }, author, 400, 'invalid_request'],
        // a colleague may work on it with its author (below), but submitting, rebasing and withdrawing are the author's
        ['POST', `/api/drafts/${id}/submit`, { note: '替他提交' }, townReviewer, 403, 'not_author'],
        ['POST', `/api/drafts/${id}/rebase`, {}, townReviewer, 403, 'not_author'],
      ];
      for (const [method, path, body, who, status, code] of cases) {
        const res = await ctx.request(method, path, body, who);
        expect([res.status, res.body?.error?.code], `${method} ${path}`).toEqual([status, code]);
      }
      expect((await ctx.request('GET', '/api/drafts', undefined, analyst)).status).toBe(403);
      // withdrawn: the copy goes, the record stays
      const gone = await ctx.request('DELETE', `/api/drafts/${id}`, undefined, author);
      expect(gone.body.status).toBe('withdrawn');
      expect((await ctx.request('GET', `/api/regions/${village.id}/children?draft=${id}`, undefined, author)).status).toBe(409);
    });

    it('two drafts of one village: the first publishes, the second gets 409 naming the grid, rebases, keeps its own change and publishes', async () => {
      const village = villages[2]!;
      const [g1, g2] = await grids(village.id);
      const d1 = (await ctx.request('POST', '/api/drafts', { regionId: village.id, name: '甲方案' }, author)).body.id;
      const d2 = (await ctx.request('POST', '/api/drafts', { regionId: village.id, name: '乙方案' }, author)).body.id;
      expect((await ctx.request('PATCH', `/api/regions/${g1!.id}?draft=${d1}`, { version: g1!.version, name: '甲改名' }, author)).status).toBe(200);
      expect((await ctx.request('PATCH', `/api/regions/${g2!.id}?draft=${d2}`, { version: g2!.version, name: '乙改名' }, author)).status).toBe(200);
      // a comment on one grid of the draft
      const commented = await ctx.request('POST', `/api/drafts/${d1}/comments`, { comment: '这里的边界再看看', gridId: g1!.id }, townReviewer);
      expect(commented.body.events.at(-1)).toMatchObject({ kind: 'comment', gridId: g1!.id, actor: 'town.reviewer' });

      expect((await ctx.request('POST', `/api/drafts/${d1}/submit`, { note: '' }, author)).status).toBe(200);
      // sent back with a reason, edited, submitted again
      const back = await ctx.request('POST', `/api/drafts/${d1}/review`, { decision: 'changes', comment: '' }, townReviewer);
      expect([back.status, back.body.error.path]).toEqual([422, 'comment']);
      expect((await ctx.request('POST', `/api/drafts/${d1}/review`, { decision: 'changes', comment: '名称要规范' }, townReviewer)).body.status).toBe('editing');
      const g1now = (await ctx.request('GET', `/api/regions/${g1!.id}?draft=${d1}`, undefined, author)).body.properties;
      expect((await ctx.request('PATCH', `/api/regions/${g1!.id}?draft=${d1}`, { version: g1now.version, name: '甲村一网格' }, author)).status).toBe(200);
      expect((await ctx.request('POST', `/api/drafts/${d1}/submit`, { note: '已改' }, author)).status).toBe(200);
      const first = await approveAll(d1);
      expect(first.body.status).toBe('published');
      expect((await grids(village.id)).find((g) => g.id === g1!.id)!.name).toBe('甲村一网格');

      // the second: the live plan changed under it
      const refused = await ctx.request('POST', `/api/drafts/${d2}/submit`, { note: '' }, author);
      expect([refused.status, refused.body.error.code]).toEqual([409, 'draft_conflict']);
      expect(refused.body.error.details.grids).toEqual([expect.objectContaining({ id: g1!.id, kind: 'changed' })]);
      expect((await ctx.request('GET', `/api/drafts/${d2}`, undefined, author)).body.conflicts.map((c: { id: number }) => c.id)).toEqual([g1!.id]);
      const rebased = await ctx.request('POST', `/api/drafts/${d2}/rebase`, undefined, author);
      expect(rebased.status, JSON.stringify(rebased.body).slice(0, 300)).toBe(200);
      expect(rebased.body.both).toEqual([]);
      expect(rebased.body.draft.conflicts).toEqual([]);
      // the draft now holds the first one's change and its own
      const seen = await ctx.request('GET', `/api/regions/${village.id}/children?draft=${d2}`, undefined, author);
      const names = new Map(seen.body.features.map((f: { id: number; properties: { name: string } }) => [f.id, f.properties.name]));
      expect([names.get(g1!.id), names.get(g2!.id)]).toEqual(['甲村一网格', '乙改名']);
      expect((await ctx.request('POST', `/api/drafts/${d2}/submit`, { note: '已变基' }, author)).status).toBe(200);
      // an administrator may decide any step
      const admin = await ctx.cookie({ username: 'tester', role: 'admin' });
      const second = await approveAll(d2, undefined, admin);
      expect(second.body.status, JSON.stringify(second.body).slice(0, 300)).toBe('published');
      const final = new Map((await grids(village.id)).map((g) => [g.id, g.name]));
      expect([final.get(g1!.id), final.get(g2!.id)]).toEqual(['甲村一网格', '乙改名']);

      // a publication is one operation its publisher can undo
      const undo = await ctx.request('POST', '/api/changes/undo', undefined, admin);
      expect([undo.status, undo.body.action]).toEqual([200, 'publish']);
      expect((await grids(village.id)).find((g) => g.id === g2!.id)!.name).toBe(g2!.name);
      expect((await ctx.request('POST', '/api/changes/redo', undefined, admin)).status).toBe(200);

      // roll back: a draft of the plan as the first version made it
      const versions = (await ctx.request('GET', `/api/versions?region=${village.id}`, undefined, author)).body;
      const v1 = versions.find((v: { draftId: number }) => v.draftId === d1);
      const rollback = await ctx.request('POST', `/api/versions/${v1.id}/rollback`, {}, author);
      expect(rollback.status, JSON.stringify(rollback.body).slice(0, 300)).toBe(201);
      const staff = (id: number, schema: string) =>
        ctx.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM ${schema}.grid_staff WHERE grid_id IN (SELECT id FROM ${schema}.region WHERE parent_id = $1)`,
          [id],
        );
      const liveStaff = (await staff(village.id, 'public')).rows[0]!.n;
      expect(liveStaff).toBeGreaterThan(0);
      expect((await staff(village.id, `gp_draft_${rollback.body.id}`)).rows[0]!.n).toBe(liveStaff);
      const back1 = await ctx.request('GET', `/api/regions/${g2!.id}?draft=${rollback.body.id}`, undefined, author);
      expect(back1.body.properties.name).toBe(g2!.name);
      const cmp = await ctx.request('GET', `/api/compare?region=${village.id}&a=live&b=draft:${rollback.body.id}`, undefined, author);
      expect(cmp.body.changed.map((c: { id: number; changes: string[] }) => [c.id, c.changes])).toEqual([[g2!.id, ['name']]]);
      // taking the first version back: the plan as it was before it — both renames undone
      const takeBack = await ctx.request('POST', `/api/versions/${v1.id}/rollback`, { before: true }, author);
      expect(takeBack.body.name).toBe(`撤回版本 ${v1.id}`);
      const before1 = await ctx.request('GET', `/api/regions/${village.id}/children?draft=${takeBack.body.id}`, undefined, author);
      const old = new Map(before1.body.features.map((f: { id: number; properties: { name: string } }) => [f.id, f.properties.name]));
      expect([old.get(g1!.id), old.get(g2!.id)]).toEqual([g1!.name, g2!.name]);
    });

    it('holds against what an attacker tried: ids in other spellings, writes racing a withdrawal, one person deciding twice, ended drafts', async () => {
      const village = villages[1]!;
      const made = await ctx.request('POST', '/api/drafts', { regionId: village.id, name: '攻防' }, author);
      const id = made.body.id;
      // the draft's own outline, written in hex, with a sign or a space: refused as no id at all
      for (const spelled of [`0x${village.id.toString(16)}`, `+${village.id}`, `%20${village.id}`]) {
        const res = await ctx.request('PATCH', `/api/regions/${spelled}?draft=${id}`, { version: 1, name: 'x' }, author);
        expect([res.status, res.body.error.code], spelled).toEqual([400, 'invalid_request']);
      }
      const bad = await ctx.request('POST', `/api/regions?draft=${id}`, { parentId: 'abc', geometry: {} }, author);
      expect(bad.status).toBe(400);
      // a write that was let in before a withdrawal runs after it: refused, never on the live plan
      const [g] = await grids(village.id);
      const { inDraft } = await import('../../server/db/drafts.ts');
      const late = inDraft(ctx.db, id, 'write');
      expect((await ctx.request('DELETE', `/api/drafts/${id}`, undefined, author)).status).toBe(200);
      await expect(late.query('UPDATE region SET name = $2 WHERE id = $1', [g!.id, '漏网'])).rejects.toMatchObject({ code: 'draft_locked' });
      expect((await grids(village.id))[0]!.name).toBe(g!.name);
      // an ended draft: no second withdrawal, no comments
      expect((await ctx.request('DELETE', `/api/drafts/${id}`, undefined, author)).status).toBe(409);
      expect((await ctx.request('POST', `/api/drafts/${id}/comments`, { comment: '还在吗' }, author)).status).toBe(409);

      // four eyes: a colleague who edited it cannot review it; nobody decides two steps of one round
      const colleague = await ctx.cookie({ username: 'town.colleague', role: 'planner', regionId: village.township });
      const d = (await ctx.request('POST', '/api/drafts', { regionId: village.id, name: '四眼' }, author)).body.id;
      const [h] = await grids(village.id);
      expect((await ctx.request('PATCH', `/api/regions/${h!.id}?draft=${d}`, { version: h!.version, name: '同事改的' }, colleague)).status).toBe(200);
      expect((await ctx.request('POST', `/api/drafts/${d}/comments`, { comment: '?', gridId: 2 ** 31 - 1 }, author)).status).toBe(404);
      expect((await ctx.request('POST', `/api/drafts/${d}/submit`, { note: '' }, author)).status).toBe(200);
      expect((await ctx.request('POST', `/api/drafts/${d}/review`, { decision: 'approve', comment: '' }, colleague)).status).toBe(403);
      // each told why (beside 等待…审批), not left to wonder
      const why = async (who: Record<string, string>) => (await ctx.request('GET', `/api/drafts/${d}`, undefined, who)).body;
      expect(await why(colleague)).toMatchObject({ mayDecide: false, whyNot: 'author' });
      const leaderAlso = await ctx.cookie({ username: 'leader.two', role: 'leader', regionId: null });
      expect(await why(leaderAlso)).toMatchObject({ mayDecide: true, whyNot: null });
      expect((await ctx.request('POST', `/api/drafts/${d}/review`, { decision: 'approve', comment: '' }, leaderAlso)).status).toBe(200);
      expect(await why(leaderAlso)).toMatchObject({ mayDecide: false, whyNot: 'decidedEarlier' });
      expect((await ctx.request('POST', `/api/drafts/${d}/review`, { decision: 'approve', comment: '' }, leaderAlso)).status).toBe(403);
      // rejected: ended, its copy dropped
      expect((await ctx.request('POST', `/api/drafts/${d}/review`, { decision: 'reject', comment: '不必调整' }, approver)).body.status).toBe('rejected');
      expect((await ctx.db.query(`SELECT 1 FROM pg_namespace WHERE nspname LIKE $1`, [`gp_draft_${d}%`])).rows).toEqual([]);
      // only reviewing roles decide steps
      const steps = await ctx.request(
        'PUT',
        '/api/approval-steps',
        { steps: [{ level: 'district', zh: '审批', en: 'approval', roles: ['analyst'] }] },
        { 'if-match': '*' },
      );
      expect([steps.status, steps.body.error.path]).toEqual([400, expect.stringContaining('roles')]);
    });

    it('publishes a draft that changed nothing as a version of the plan as it stood, and its print does not call it edited since', async () => {
      const village = villages[2]!;
      const id = (await ctx.request('POST', '/api/drafts', { regionId: village.id, name: '原样确认' }, author)).body.id;
      expect((await ctx.request('POST', `/api/drafts/${id}/submit`, { note: '' }, author)).status).toBe(200);
      const published = await approveAll(id);
      expect(published.status, JSON.stringify(published.body).slice(0, 300)).toBe(200);
      const print = await ctx.request('GET', `/api/regions/${village.id}/print`, undefined, approver);
      const { version } = print.body;
      expect(version.published).toMatchObject({ name: '原样确认' });
      // (the page reads "edited since" when the plan's latest change is newer than the version's)
      expect(version.published.op).not.toBeNull();
      expect(version.op === null || version.op <= version.published.op).toBe(true);
    });

    it('tells the reviewers of each step that a draft awaits them, and its author what came of each step', async () => {
      const inboxOf = async (who: Who, id: number) =>
        (
          (await ctx.request('GET', '/api/notifications?limit=50', undefined, who)).body.items as {
            event: string;
            draftId: number | null;
            text: { zh: string };
          }[]
        )
          .filter((n) => n.draftId === id)
          .map((n) => [n.event, n.text.zh]);
      const village = villages[2]!;
      const made = await ctx.request('POST', '/api/drafts', { regionId: village.id, name: '通知测试' }, author);
      const id = made.body.id as number;
      expect((await ctx.request('POST', `/api/drafts/${id}/submit`, { note: '' }, author)).status).toBe(200);
      // the first step awaits those who may decide it (the township's reviewer); the author is told nothing of their own step
      expect(await inboxOf(townReviewer, id)).toEqual([['draft.review', expect.stringMatching(/^草稿「通知测试」（.+）待您审核：/)]]);
      expect(await inboxOf(author, id)).toEqual([]);
      const before = (await inboxOf(approver, id)).length;
      const notice = (await ctx.request('GET', '/api/notifications?limit=1', undefined, townReviewer)).body.items[0];
      expect(notice).toMatchObject({ draftId: id, draftRegionId: village.id, incidentId: null });
      // sent back: the author hears why
      expect((await ctx.request('POST', `/api/drafts/${id}/review`, { decision: 'changes', comment: '请补充调整理由' }, townReviewer)).status).toBe(200);
      expect((await inboxOf(author, id))[0]).toEqual(['draft.decided', expect.stringMatching(/被退回修改.*请补充调整理由/)]);
      // again: the first step passes, and the district's leader is told it is theirs now; then published
      expect((await ctx.request('POST', `/api/drafts/${id}/submit`, { note: '已补充' }, author)).status).toBe(200);
      expect((await approveAll(id)).status).toBe(200);
      // (the leader is told of the district's step once the township's has passed)
      const told = await inboxOf(approver, id);
      expect(told.length).toBeGreaterThan(before);
      expect(told[0]).toEqual(['draft.review', expect.stringContaining('待您审核')]);
      expect((await inboxOf(author, id)).map(([, zh]) => zh)).toEqual([
        expect.stringContaining('已通过审核并发布'),
        expect.stringMatching(/已通过「.+」，进入「.+」/),
        expect.stringContaining('被退回修改'),
      ]);
    });

    it('lists the people and the grids they serve as the draft has them, the live plan elsewhere', async () => {
      const village = villages[1]!;
      const made = await ctx.request('POST', '/api/drafts', { regionId: village.id, name: '人员调整' }, author);
      const id = made.body.id as number;
      const [g] = (await grids(village.id)).filter(Boolean);
      const {
        rows: [w],
      } = await ctx.db.query<{ worker: number }>('SELECT worker_id AS worker FROM region WHERE id = $1', [g!.id]);
      expect(w!.worker).not.toBeNull();
      const servesIn = async (draft: number | null) =>
        (
          (await ctx.request('GET', `/api/workers?role=full_time${draft ? `&draft=${draft}` : ''}`, undefined, author)).body as {
            id: number;
            gridId: number | null;
          }[]
        ).find((x) => x.id === w!.worker)?.gridId;
      expect(await servesIn(id)).toBe(g!.id);
      // the draft takes the grid's worker away: the draft's list says so, the live one does not
      const version = (await ctx.request('GET', `/api/regions/${g!.id}?draft=${id}`, undefined, author)).body.properties.version;
      const cleared = await ctx.request('PATCH', `/api/regions/${g!.id}?draft=${id}`, { version, workerId: null }, author);
      expect(cleared.status, JSON.stringify(cleared.body)).toBe(200);
      expect(await servesIn(id)).toBeNull();
      expect(await servesIn(null)).toBe(g!.id);
      // someone serving a grid outside the draft's village (in the author's township) keeps it in the draft's list
      const {
        rows: [far],
      } = await ctx.db.query<{ worker: number; grid: number }>(
        `SELECT g.worker_id AS worker, g.id AS grid FROM region g JOIN region v ON v.id = g.parent_id
         WHERE g.level = 'grid' AND g.worker_id IS NOT NULL AND g.parent_id <> $1 AND v.parent_id = $2 ORDER BY g.id LIMIT 1`,
        [village.id, village.township],
      );
      // (and someone serving only another township's grids is not the township author's to pick)
      const {
        rows: [elsewhere],
      } = await ctx.db.query<{ worker: number }>(
        `SELECT g.worker_id AS worker FROM region g JOIN region v ON v.id = g.parent_id
         WHERE g.level = 'grid' AND g.worker_id IS NOT NULL AND v.parent_id <> $1 ORDER BY g.id LIMIT 1`,
        [village.township],
      );
      const list = (await ctx.request('GET', `/api/workers?role=full_time&draft=${id}`, undefined, author)).body as { id: number; gridId: number | null }[];
      expect(list.find((x) => x.id === far!.worker)?.gridId).toBe(far!.grid);
      expect(list.some((x) => x.id === elsewhere!.worker)).toBe(false);
      expect((await ctx.request('DELETE', `/api/drafts/${id}`, undefined, author)).status).toBe(200);
    });

    it('approved for a later day: scheduled, then published when the day comes', async () => {
      const village = villages[1]!;
      const [g] = await grids(village.id);
      const id = (await ctx.request('POST', '/api/drafts', { regionId: village.id, name: '明年生效' }, author)).body.id;
      const staffed = (await ctx.db.query<{ worker_id: number | null }>('SELECT worker_id FROM region WHERE id = $1', [g!.id])).rows[0]!.worker_id;
      expect(staffed).not.toBeNull();
      const edit = { version: g!.version, name: '明年网格', workerId: null, staff: [] };
      expect((await ctx.request('PATCH', `/api/regions/${g!.id}?draft=${id}`, edit, author)).status).toBe(200);
      // the comparison names the staffing change beside the name
      const cmp = await ctx.request('GET', `/api/compare?region=${village.id}&a=live&b=draft:${id}`, undefined, author);
      const mine = cmp.body.changed.find((c: { id: number }) => c.id === g!.id);
      expect(mine.changes).toEqual(expect.arrayContaining(['name', 'worker']));
      expect(mine.after.workerId).toBeNull();
      expect((await ctx.request('POST', `/api/drafts/${id}/submit`, { note: '' }, author)).status).toBe(200);
      // a day already past is refused, not taken for "at once"
      const past = await approveAll(id, '2020-01-01');
      expect([past.status, past.body.error?.code, past.body.error?.path]).toEqual([422, 'past_date', 'effectiveFrom']);
      const res = await ctx.request('POST', `/api/drafts/${id}/review`, { decision: 'approve', comment: '批准', effectiveFrom: '2099-01-01' }, approver);
      expect(res.body).toMatchObject({ status: 'scheduled', versionId: null });
      expect(await publishDue(ctx.db, new Date())).toEqual([]);
      expect((await grids(village.id)).find((x) => x.id === g!.id)!.name).toBe(g!.name);
      expect(await publishDue(ctx.db, new Date('2099-01-01T08:00:00+08:00'))).toEqual([id]);
      expect((await grids(village.id)).find((x) => x.id === g!.id)!.name).toBe('明年网格');
      const v = (await ctx.request('GET', `/api/versions?region=${village.id}`, undefined, author)).body[0];
      expect(v).toMatchObject({ draftId: id, publishedBy: 'system', approvedBy: 'district.leader' });
      expect(v.effectiveFrom.slice(0, 10)).toBe('2098-12-31'); // midnight in Beijing
    });

    it("passes a district's own approval steps where it set them: one step, refused while a draft waits, logged and undone", async () => {
      const village = villages[2]!;
      const read = await ctx.request('GET', `/api/regions/${village.id}/approval-steps`);
      expect(read.status, JSON.stringify(read.body)).toBe(200);
      expect(read.body).toMatchObject({ own: false, version: 0 });
      expect(read.body.steps).toEqual(read.body.defaults);
      expect(read.body.steps.map((x: { level: string }) => x.level)).toEqual(['township', 'district']);
      const district = read.body.districtId as number;
      const put = (body: unknown, who?: Who) => ctx.request('PUT', `/api/regions/${district}/approval-steps`, body, who);
      const one = [{ level: 'district', zh: '区县审批', en: 'district approval', roles: ['leader', 'admin'] }];
      expect((await put({ steps: one, version: 0 }, author)).status).toBe(403);
      expect((await put({ steps: [{ ...one[0], roles: ['analyst'] }], version: 0 })).status).toBe(400);
      expect((await put({ steps: [], version: 0 })).status).toBe(400);
      const set = await put({ steps: one, version: 0 });
      expect(set.status, JSON.stringify(set.body)).toBe(200);
      expect(set.body).toMatchObject({ own: true, steps: [{ step: 0, level: 'district', zh: '区县审批' }] });
      expect((await put({ steps: one, version: 0 })).status).toBe(409);

      // a village's draft now goes straight to the district's leader
      const id = (await ctx.request('POST', '/api/drafts', { regionId: village.id, name: '区县自定流程' }, author)).body.id;
      expect((await ctx.request('POST', `/api/drafts/${id}/submit`, { note: '' }, author)).status).toBe(200);
      const detail = (await ctx.request('GET', `/api/drafts/${id}`, undefined, approver)).body;
      expect(detail.steps.map((x: { zh: string }) => x.zh)).toEqual(['区县审批']);
      expect(detail.mayDecide).toBe(true);
      expect((await ctx.request('GET', `/api/drafts/${id}`, undefined, townReviewer)).body).toMatchObject({ mayDecide: false, whyNot: 'role' });
      // while it waits, the district's steps stay; the plan's, which no draft under review passes, may change
      const stale = await put({ steps: null, version: set.body.version });
      expect([stale.status, stale.body.error?.code]).toEqual([409, 'conflict']);
      const plan = await ctx.request('GET', '/api/approval-steps');
      const planSteps = plan.body.map(({ level, zh, en, roles }: { level: string; zh: string; en: string; roles: string[] }) => ({ level, zh, en, roles }));
      const renamed = await ctx.request('PUT', '/api/approval-steps', { steps: [{ ...planSteps[0], zh: '乡镇初审' }, planSteps[1]] }, { 'if-match': '*' });
      expect(renamed.status, JSON.stringify(renamed.body)).toBe(200);
      expect((await ctx.request('GET', `/api/drafts/${id}`, undefined, approver)).body.steps.map((x: { zh: string }) => x.zh)).toEqual(['区县审批']);
      const done = await ctx.request('POST', `/api/drafts/${id}/review`, { decision: 'approve', comment: '批准' }, approver);
      expect([done.status, done.body.status]).toEqual([200, 'published']);

      // in 设置 › 修改记录 with the district's name, and undone there: the plan's steps again
      const entry = (await ctx.request('GET', '/api/settings/changes?limit=10')).body.find((h: { entity: string }) => h.entity === 'district_approval_step');
      expect(entry.subject).toBe(read.body.district);
      expect(entry.changed).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'districtOwn', before: 'no', after: 'yes' })]));
      expect((await ctx.request('POST', `/api/settings/changes/${entry.id}/undo`)).status).toBe(200);
      const back = (await ctx.request('GET', `/api/regions/${village.id}/approval-steps`)).body;
      expect(back.own).toBe(false);
      expect(back.steps.map((x: { zh: string }) => x.zh)).toEqual(['乡镇初审', planSteps[1].zh]);
      expect((await ctx.request('GET', '/api/regions/999999/approval-steps')).status).toBe(404);
    });
  });
}
