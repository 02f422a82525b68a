import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiContext, cloneTestDb, DRIVERS, type ApiContext } from '../support/db.ts';

const deadlines = [1, 2, 3, 4].map((severity) => ({ severity, ackHours: 2 * (5 - severity), resolveHours: 24 * (5 - severity) }));

for (const driver of DRIVERS) {
  describe(`settings: departments, categories and their undo (${driver})`, () => {
    let ctx: ApiContext;
    let dispose: () => Promise<void>;
    let districtId: number;

    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      dispose = t.dispose;
      ctx = await apiContext(t.db);
      districtId = (await ctx.db.query<{ id: number }>(`SELECT id FROM region WHERE level = 'district' ORDER BY id LIMIT 1`)).rows[0]!.id;
    });
    afterAll(() => dispose());

    it('adds a department with its contact and categories, changes it at its version, and refuses a stale one', async () => {
      const made = await ctx.request('POST', '/api/settings/departments', {
        code: 'water',
        zh: '水务局',
        en: 'Water bureau',
        contact: '李明',
        phone: '0874-3123456',
        categories: ['sanitation'],
      });
      expect(made.status).toBe(201);
      expect(made.body).toMatchObject({ code: 'water', contact: '李明', version: 1, categories: ['sanitation'] });
      const { body: all } = await ctx.request('GET', '/api/settings/departments');
      expect(all.at(-1).code).toBe('water'); // a new department goes last
      const changed = await ctx.request('PATCH', `/api/settings/departments/${made.body.id}`, {
        ...made.body,
        id: undefined,
        categories: undefined,
        region: undefined,
        version: 1,
        phone: '0874-3999999',
      });
      expect(changed.status, JSON.stringify(changed.body)).toBe(200);
      expect(changed.body).toMatchObject({ phone: '0874-3999999', version: 2, categories: ['sanitation'] });
      const stale = await ctx.request('PATCH', `/api/settings/departments/${made.body.id}`, { code: 'water', zh: '水务', en: 'Water', version: 1 });
      expect([stale.status, stale.body.error.code]).toEqual([409, 'version_conflict']);
      // what the dispatch screen lists follows
      expect((await ctx.request('GET', '/api/departments')).body.map((d: { code: string }) => d.code)).toContain('water');
    });

    it('refuses bad input in words, writing nothing: a taken code, an unknown category, a bad phone, a missing severity, a planner', async () => {
      const before = await ctx.snapshot();
      const taken = await ctx.request('POST', '/api/settings/departments', { code: 'police', zh: '公安', en: 'Police' });
      expect([taken.status, taken.body.error.code, taken.body.error.path]).toEqual([409, 'duplicate_code', 'code']);
      const unknown = await ctx.request('POST', '/api/settings/departments', { code: 'roads', zh: '公路', en: 'Roads', categories: ['nope'] });
      expect([unknown.status, unknown.body.error.code, unknown.body.error.path]).toEqual([422, 'unknown_category', 'categories[0]']);
      expect((await ctx.request('POST', '/api/settings/departments', { code: 'roads', zh: '公路', en: 'Roads', phone: 'call me' })).status).toBe(400);
      const three = await ctx.request('PUT', '/api/settings/categories/fire', {
        zh: '消防',
        en: 'Fire',
        deadlineHours: 24,
        deadlines: deadlines.slice(0, 3),
        departments: ['fire'],
        version: 1,
      });
      expect(three.status).toBe(400);
      const planner = await ctx.request('POST', '/api/settings/departments', { code: 'roads', zh: '公路', en: 'Roads' }, { 'x-gridplan-user': 'set-planner' });
      expect(planner.status).toBe(403);
      expect(await ctx.snapshot()).toEqual(before);
    });

    it('sets a category’s deadlines per severity and its departments, which new dispatches then use', async () => {
      const { body: list } = await ctx.request('GET', '/api/settings/categories');
      const fire = list.find((c: { code: string }) => c.code === 'fire');
      expect(fire.deadlines).toHaveLength(4);
      const res = await ctx.request('PUT', '/api/settings/categories/fire', {
        zh: '消防安全',
        en: 'Fire safety',
        deadlineHours: 12,
        deadlines,
        departments: ['fire', 'water'],
        version: fire.version,
      });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body).toMatchObject({ zh: '消防安全', deadlineHours: 12, version: fire.version + 1, sort: fire.sort });
      expect([...res.body.departments].sort()).toEqual(['fire', 'water']);
      expect(res.body.deadlines[3]).toEqual({ severity: 4, ackHours: 2, resolveHours: 24 });
      const { rows } = await ctx.db.query<{ ack: number }>(`SELECT ack_hours::float8 AS ack FROM incident_deadline WHERE category = 'fire' AND severity = 1`);
      expect(rows[0]!.ack).toBe(8);
      const made = await ctx.request('POST', '/api/settings/categories', {
        code: 'water_supply',
        zh: '供水',
        en: 'Water supply',
        deadlineHours: 48,
        deadlines,
        departments: ['water'],
      });
      expect(made.status).toBe(201);
      expect((await ctx.request('GET', '/api/incident-categories')).body.map((c: { code: string }) => c.code)).toContain('water_supply');
    });

    it('lists every settings change and undoes one while nothing changed it since; a later change must go first', async () => {
      const { version } = (await ctx.request('GET', `/api/regions/${districtId}/rules`)).body;
      await ctx.request('PUT', `/api/regions/${districtId}/rules`, { rules: [{ gridType: 'rural', min: 12, max: 30, target: 20 }], version });
      const { body: changes } = await ctx.request('GET', '/api/settings/changes');
      expect(changes.map((c: { entity: string; action: string }) => `${c.entity}:${c.action}`)).toEqual([
        'grid_type_rule:update',
        'incident_category:create',
        'incident_category:update',
        'department:update',
        'department:create',
      ]);
      // who, by the account's name as people know it
      const { rows: me } = await ctx.db.query<{ username: string; name: string }>(
        `SELECT username, coalesce(nullif(display_name, ''), username) AS name FROM app_user WHERE username = $1`,
        [changes[0].actor],
      );
      expect(changes[0].actorName).toBe(me[0]?.name ?? changes[0].actor);
      // Each update says what it changed, field by field; a rule or a deadline by its grid type or severity.
      const ruralRule = { item: 'rural', itemZh: '农村型', itemEn: 'Rural' };
      expect(changes[0].changed).toEqual([
        { field: 'min', ...ruralRule, before: '10', after: '12', beforeEn: '10', afterEn: '12' },
        { field: 'target', ...ruralRule, before: '18', after: '20', beforeEn: '18', afterEn: '20' },
        { field: 'max', ...ruralRule, before: '25', after: '30', beforeEn: '25', afterEn: '30' },
      ]);
      // the category change: back to 消防 with its old deadlines
      const categoryChange = changes.find((c: { entity: string; action: string }) => c.entity === 'incident_category' && c.action === 'update');
      expect(categoryChange.changed).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ field: 'zh', item: null, before: '消防', after: '消防安全' }),
          expect.objectContaining({ field: 'deadlineHours', before: '24', after: '12' }),
          // departments by their names, not their codes
          expect.objectContaining({ field: 'departments', before: expect.not.stringContaining('fire') }),
        ]),
      );
      expect(categoryChange.changed.some((c: { field: string; item: string }) => c.field === 'ackHours' && c.item === '1')).toBe(true);
      // a category made says what it was made with, its deadlines severity by severity, never an object's "[object Object]"
      const category = changes.find((c: { entity: string; action: string }) => c.entity === 'incident_category' && c.action === 'create');
      expect(JSON.stringify(category.changed)).not.toContain('[object Object]');
      expect(category.changed).toEqual(expect.arrayContaining([expect.objectContaining({ field: 'ackHours', item: '1', before: '' })]));
      // a department made says what it was made with: its contact, its phone
      const made = changes.find((c: { entity: string; action: string }) => c.entity === 'department' && c.action === 'create');
      expect(made.changed).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ field: 'contact', item: null, before: '', after: '李明' }),
          expect.objectContaining({ field: 'phone', before: '', after: '0874-3123456' }),
        ]),
      );
      const undone = await ctx.request('POST', `/api/settings/changes/${categoryChange.id}/undo`);
      expect(undone.status, JSON.stringify(undone.body)).toBe(200);
      const fire = (await ctx.request('GET', '/api/settings/categories')).body.find((c: { code: string }) => c.code === 'fire');
      expect(fire).toMatchObject({ zh: '消防', deadlineHours: 24, departments: ['fire'] });
      expect((await ctx.request('POST', `/api/settings/changes/${categoryChange.id}/undo`)).body.error.code).toBe('already_undone');
      // the department's creation cannot be undone before its change
      const created = changes.find((c: { entity: string; action: string }) => c.entity === 'department' && c.action === 'create');
      const early = await ctx.request('POST', `/api/settings/changes/${created.id}/undo`);
      expect([early.status, early.body.error.code]).toEqual([409, 'version_conflict']);
      const updated = changes.find((c: { entity: string; action: string }) => c.entity === 'department' && c.action === 'update');
      expect((await ctx.request('POST', `/api/settings/changes/${updated.id}/undo`)).status).toBe(200);
      // a category made since routes to it: its creation cannot go first, or that category would go nowhere
      const routedSince = await ctx.request('POST', `/api/settings/changes/${created.id}/undo`);
      expect([routedSince.status, routedSince.body.error.code]).toEqual([422, 'in_use']);
      expect((await ctx.request('GET', '/api/settings/categories')).body.find((c: { code: string }) => c.code === 'water_supply').departments).toEqual([
        'water',
      ]);
      const supply = changes.find((c: { entity: string; action: string }) => c.entity === 'incident_category' && c.action === 'create');
      expect((await ctx.request('POST', `/api/settings/changes/${supply.id}/undo`)).status).toBe(200);
      // with the later changes undone, the department's creation can be: it goes, and the routing it came with
      expect((await ctx.request('POST', `/api/settings/changes/${created.id}/undo`)).status).toBe(200);
      expect((await ctx.request('GET', '/api/settings/departments')).body.some((d: { code: string }) => d.code === 'water')).toBe(false);
      // the rules: back to the district's own (the demo's 10–25)
      const rules = changes.find((c: { entity: string }) => c.entity === 'grid_type_rule');
      expect((await ctx.request('POST', `/api/settings/changes/${rules.id}/undo`)).status).toBe(200);
      const rural = (await ctx.request('GET', `/api/regions/${districtId}/rules`)).body.rules.find((r: { gridType: string }) => r.gridType === 'rural');
      expect(rural).toMatchObject({ min: 10, max: 25, target: 18, own: true });
      const after = (await ctx.request('GET', '/api/settings/changes')).body;
      expect(after.filter((c: { undone: boolean }) => c.undone)).toHaveLength(5);
    });

    it('changes what a PATCH sends and keeps the rest of a department', async () => {
      const listed = (await ctx.request('GET', '/api/settings/departments')).body.find((d: { code: string }) => d.code === 'police');
      // (the list says whether cases or accounts refer to it; one department's answer is the department itself)
      expect(listed.inUse).toBe(true);
      const { inUse: _, ...police } = listed;
      const contact = await ctx.request('PATCH', `/api/settings/departments/${police.id}`, { contact: '王芳', version: police.version });
      expect(contact.status, JSON.stringify(contact.body)).toBe(200);
      expect(contact.body).toEqual({ ...police, contact: '王芳', version: police.version + 1 });
      expect((await ctx.request('PATCH', `/api/settings/departments/${police.id}`, { zh: '', version: police.version + 1 })).status).toBe(400);
      // phones as county lists write them: an extension, a second number; words alone are none
      for (const [i, phone] of ['0874-3123456 转 8001', '13800000000/13900000000', '0874-3123456、0874-3123457'].entries()) {
        const res = await ctx.request('PATCH', `/api/settings/departments/${police.id}`, { phone, version: police.version + 1 + i });
        expect([res.status, res.body.phone]).toEqual([200, phone]);
      }
      const words = await ctx.request('PATCH', `/api/settings/departments/${police.id}`, { phone: '值班室', version: police.version + 4 });
      expect([words.status, words.body.error.path]).toEqual([400, 'json.phone']);
    });

    it('adds a department and a category by their Chinese names alone: the code is made, the English name is the Chinese', async () => {
      const dept = await ctx.request('POST', '/api/settings/departments', { zh: '水务局' });
      expect(dept.status, JSON.stringify(dept.body)).toBe(201);
      expect(dept.body.code).toMatch(/^dept_\d+$/);
      expect(dept.body.en).toBe('水务局');
      const fresh = (await ctx.request('GET', '/api/settings/departments')).body.find((d: { id: number }) => d.id === dept.body.id);
      expect(fresh.inUse).toBe(false);
      const again = await ctx.request('POST', '/api/settings/departments', { zh: '林草局' });
      expect(again.body.code).toMatch(/^dept_\d+$/);
      expect(again.body.code).not.toBe(dept.body.code);
      const other = (await ctx.request('GET', '/api/settings/categories')).body.find((c: { code: string }) => c.code === 'other');
      const cat = await ctx.request('POST', '/api/settings/categories', {
        zh: '供水',
        deadlineHours: other.deadlineHours,
        deadlines: other.deadlines,
        departments: [dept.body.code],
      });
      expect(cat.status, JSON.stringify(cat.body)).toBe(201);
      expect(cat.body).toMatchObject({ code: expect.stringMatching(/^cat_\d+$/), zh: '供水', en: '供水', departments: [dept.body.code] });
    });

    it('removes a department nothing refers to, and refuses one with cases', async () => {
      const made = await ctx.request('POST', '/api/settings/departments', { code: 'archive', zh: '档案局', en: 'Archives' });
      expect((await ctx.request('DELETE', `/api/settings/departments/${made.body.id}?version=1`)).status).toBe(204);
      const police = (await ctx.request('GET', '/api/settings/departments')).body.find((d: { code: string }) => d.code === 'police');
      const cases = await ctx.db.query<{ n: number }>('SELECT count(*)::int AS n FROM dispatch WHERE department_id = $1', [police.id]);
      const res = await ctx.request('DELETE', `/api/settings/departments/${police.id}?version=${police.version}`);
      if (cases.rows[0]!.n > 0) expect([res.status, res.body.error.code]).toEqual([422, 'in_use']);
      else expect(res.status).toBe(422); // the demo's police account refers to it
    });

    it('undoes a change of the staffing model (1+3+M+X → 1+N+X and back)', async () => {
      const { body: roles } = await ctx.request('GET', '/api/staff-roles');
      const relaxed = roles.map((r: { code: string; minPerGrid: number }) => (r.code === 'police' || r.code === 'instructor' ? { ...r, minPerGrid: 0 } : r));
      expect((await ctx.request('PUT', '/api/staff-roles', { roles: relaxed })).status).toBe(400); // (no If-Match: whose version?)
      expect((await ctx.request('PUT', '/api/staff-roles', { roles: relaxed }, { 'if-match': '*' })).status).toBe(200);
      const change = (await ctx.request('GET', '/api/settings/changes')).body[0];
      expect(change).toMatchObject({ entity: 'staff_role', action: 'update', undone: false });
      expect((await ctx.request('POST', `/api/settings/changes/${change.id}/undo`)).status).toBe(200);
      expect((await ctx.request('GET', '/api/staff-roles')).body).toEqual(roles);
    });

    it('versions the staffing model, approval steps and escalation contacts: stale is 409 and writes nothing; each undone from the history', async () => {
      // the staffing model: its version is the list's ETag, sent back as If-Match
      const read = await ctx.request('GET', '/api/staff-roles');
      const tag = read.headers.get('etag')!;
      expect(tag).toMatch(/^"\d+"$/);
      const roles = read.body.map((r: { code: string; minPerGrid: number }) => (r.code === 'police' ? { ...r, minPerGrid: 0 } : r));
      const first = await ctx.request('PUT', '/api/staff-roles', { roles }, { 'if-match': tag });
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      expect(first.headers.get('etag')).not.toBe(tag);
      const rows = await ctx.snapshot();
      const stale = await ctx.request('PUT', '/api/staff-roles', { roles: read.body }, { 'if-match': tag });
      expect([stale.status, stale.body.error.code, stale.body.error.path]).toEqual([409, 'version_conflict', 'If-Match']);
      expect(await ctx.snapshot()).toEqual(rows);
      expect((await ctx.request('PUT', '/api/staff-roles', { roles }, { 'if-match': 'yesterday' })).status).toBe(400);
      expect((await ctx.request('PUT', '/api/staff-roles', { roles: read.body }, { 'if-match': first.headers.get('etag')! })).status).toBe(200);

      // the approval steps: logged now, versioned, and undone from the settings history
      const steps = await ctx.request('GET', '/api/approval-steps');
      const stepsTag = steps.headers.get('etag')!;
      const one = [{ level: 'district', zh: '区级审批', en: 'District approval', roles: ['leader'] }];
      const set = await ctx.request('PUT', '/api/approval-steps', { steps: one }, { 'if-match': stepsTag });
      expect(set.status, JSON.stringify(set.body)).toBe(200);
      const asInput = ({ step: _, ...s }: { step: number }) => s;
      const late = await ctx.request('PUT', '/api/approval-steps', { steps: steps.body.map(asInput) }, { 'if-match': stepsTag });
      expect([late.status, late.body.error.code]).toEqual([409, 'version_conflict']);
      const stepChange = (await ctx.request('GET', '/api/settings/changes')).body[0];
      expect(stepChange).toMatchObject({ entity: 'approval_step', action: 'update', undone: false });
      expect(stepChange.changed.length).toBeGreaterThan(0);
      // a step that is new says at what level and by whom it is decided
      if (steps.body.length < 1 || steps.body[0].level !== 'district')
        expect(stepChange.changed).toEqual(expect.arrayContaining([expect.objectContaining({ item: '0', field: 'level', after: 'district' })]));
      expect((await ctx.request('POST', `/api/settings/changes/${stepChange.id}/undo`)).status).toBe(200);
      const back = await ctx.request('GET', '/api/approval-steps');
      expect(back.body).toEqual(steps.body);
      expect(back.headers.get('etag')).not.toBe(set.headers.get('etag'));

      // a region's escalation contacts: a version on each, sent back in the body
      const leader = 'settings-duty';
      await ctx.cookie({ username: leader, role: 'leader', regionId: districtId });
      const contacts = (await ctx.request('GET', '/api/settings/escalation-contacts')).body.find((x: { regionId: number }) => x.regionId === districtId);
      const named = await ctx.request('PUT', `/api/settings/escalation-contacts/${districtId}`, { usernames: [leader], version: contacts.version });
      expect(named.status, JSON.stringify(named.body)).toBe(200);
      expect(named.body.version).toBeGreaterThan(contacts.version);
      const again = await ctx.request('PUT', `/api/settings/escalation-contacts/${districtId}`, { usernames: [], version: contacts.version });
      expect([again.status, again.body.error.code]).toEqual([409, 'version_conflict']);
      const contactChange = (await ctx.request('GET', '/api/settings/changes')).body[0];
      expect(contactChange).toMatchObject({ entity: 'escalation_contact', subject: contacts.name });
      expect(contactChange.changed).toEqual([expect.objectContaining({ field: 'named', item: leader, before: '', after: '✓' })]);
      expect((await ctx.request('POST', `/api/settings/changes/${contactChange.id}/undo`)).status).toBe(200);
      const after = (await ctx.request('GET', '/api/settings/escalation-contacts')).body.find((x: { regionId: number }) => x.regionId === districtId);
      expect(after.named).toEqual([]);
    });

    it('undoes an earlier 考核 change after a later one was undone: by its points, whatever their versions', async () => {
      const points = async () =>
        Object.fromEntries(
          (await ctx.db.query<{ measure: string; points: number }>('SELECT measure, points::float8 AS points FROM assessment_rule')).rows.map((r) => [
            r.measure,
            r.points,
          ]),
        );
      const versionOf = async (measure: string) =>
        (await ctx.db.query<{ v: number }>('SELECT version AS v FROM assessment_rule WHERE measure = $1', [measure])).rows[0]!.v;
      const before = await points();
      const put = async (measure: string, p: number) =>
        (await ctx.request('PUT', '/api/assessment/rules', { rules: [{ measure, points: p, version: await versionOf(measure) }] })).status;
      expect(await put('report', 5)).toBe(200);
      expect(await put('on_spot', 7)).toBe(200);
      const [later, earlier] = (await ctx.request('GET', '/api/settings/changes?limit=5')).body.filter(
        (c: { entity: string }) => c.entity === 'assessment_rule',
      );
      expect((await ctx.request('POST', `/api/settings/changes/${earlier.id}/undo`)).status).toBe(409); // the later one first
      expect((await ctx.request('POST', `/api/settings/changes/${later.id}/undo`)).status).toBe(200);
      expect((await ctx.request('POST', `/api/settings/changes/${earlier.id}/undo`)).status).toBe(200);
      expect(await points()).toEqual(before);
    });

    it('gives a deleted district its own settings back when the deletion is undone, and not the older ones on a later undo', async () => {
      // an empty district far from the demo, with every setting of its own
      const square = [
        [
          [95, 25],
          [95.02, 25],
          [95.02, 25.02],
          [95, 25.02],
          [95, 25],
        ],
      ];
      const made = await ctx.request('POST', '/api/regions/import', {
        parentId: null,
        level: 'district',
        features: {
          type: 'FeatureCollection',
          features: [{ type: 'Feature', id: '699901', properties: { name: '撤销区' }, geometry: { type: 'Polygon', coordinates: square } }],
        },
      });
      expect(made.status, JSON.stringify(made.body)).toBe(201);
      const id = made.body.created[0].id as number;
      const ok = (r: { status: number; body: unknown }) => expect(r.status, JSON.stringify(r.body)).toBe(200);
      ok(await ctx.request('PUT', `/api/regions/${id}/rules`, { rules: [{ gridType: 'rural', min: 12, max: 40, target: 30 }], version: 0 }));
      const staffing = (await ctx.request('GET', `/api/regions/${id}/staffing`)).body;
      ok(await ctx.request('PUT', `/api/regions/${id}/staffing`, { roles: [{ code: 'police', minPerGrid: 0 }], version: staffing.version }));
      const four = [1, 2, 3, 4].map((severity) => ({ severity, ackHours: 5 - severity, resolveHours: 10 * (5 - severity) }));
      const dl = (await ctx.request('GET', `/api/regions/${id}/deadlines`)).body;
      ok(await ctx.request('PUT', `/api/regions/${id}/deadlines`, { categories: [{ code: 'fire', deadlines: four, closeHours: 9 }], version: dl.version }));
      ok(await ctx.request('PUT', `/api/regions/${id}/assessment-rules`, { rules: [{ measure: 'on_spot', points: 5 }], version: 0 }));
      const steps = [{ level: 'district', zh: '区县审批', en: 'district approval', roles: ['leader', 'admin'] }];
      ok(await ctx.request('PUT', `/api/regions/${id}/approval-steps`, { steps, version: 0 }));
      const settings = async () =>
        (
          await ctx.db.query<{ s: string }>(
            `SELECT concat_ws(' | ',
               (SELECT string_agg(grid_type || ':' || min_households || '-' || max_households, ',') FROM grid_type_rule WHERE district_id = $1),
               (SELECT string_agg(role || ':' || min_per_grid, ',') FROM staff_requirement WHERE district_id = $1),
               (SELECT string_agg(category || severity || ':' || ack_hours::float8 || '/' || resolve_hours::float8, ',' ORDER BY severity)
                  FROM district_deadline WHERE district_id = $1),
               (SELECT string_agg(category || ':' || hours, ',') FROM district_close_hours WHERE district_id = $1),
               (SELECT string_agg(measure || ':' || points::float8, ',') FROM district_assessment_rule WHERE district_id = $1),
               (SELECT string_agg(step || ':' || zh || ':' || array_to_string(roles, '+'), ',') FROM district_approval_step WHERE district_id = $1)) AS s`,
            [id],
          )
        ).rows[0]!.s;
      const own = await settings();
      expect(own).toBe('rural:12-40 | police:0 | fire1:4/40,fire2:3/30,fire3:2/20,fire4:1/10 | fire:9 | on_spot:5 | 0:区县审批:leader+admin');

      // deleted: its settings go with it (their keys cascade); undone: they come back as they were
      const version = (await ctx.request('GET', `/api/regions/${id}`)).body.properties.version;
      ok(await ctx.request('DELETE', `/api/regions/${id}?version=${version}`));
      expect(await settings()).toBe('');
      ok(await ctx.request('POST', '/api/changes/undo'));
      expect(await settings()).toBe(own);
      expect(
        (await ctx.request('GET', `/api/regions/${id}/assessment-rules`)).body.rules.find((r: { measure: string }) => r.measure === 'on_spot'),
      ).toMatchObject({
        points: 5,
        own: true,
      });

      // a rename undone writes the district back as it stood, and leaves the settings changed since as they are
      const v2 = (await ctx.request('GET', `/api/regions/${id}`)).body.properties.version;
      ok(await ctx.request('PATCH', `/api/regions/${id}`, { version: v2, name: '更名区' }));
      const pts = (await ctx.request('GET', `/api/regions/${id}/assessment-rules`)).body.version;
      ok(await ctx.request('PUT', `/api/regions/${id}/assessment-rules`, { rules: [{ measure: 'on_spot', points: null }], version: pts }));
      ok(await ctx.request('POST', '/api/changes/undo'));
      expect((await ctx.request('GET', `/api/regions/${id}`)).body.properties.name).toBe('撤销区');
      expect(await settings()).toBe(own.replace(' | on_spot:5', ''));
    });
  });
}
