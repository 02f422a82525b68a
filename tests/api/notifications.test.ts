import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { notifyDeadlinesNear } from '../../server/db/notifications.ts';
import { BACKOFF_SECONDS, MAX_ATTEMPTS } from '../../server/db/webhooks.ts';
import { apiContext, cloneTestDb, DRIVERS, type ApiContext } from '../support/db.ts';

const HOUR = 3_600_000;

/** A gateway on this machine: records every call, answers with the statuses it is given, then 200. */
async function receiver(statuses: number[]): Promise<{ url: string; calls: { headers: IncomingMessage['headers']; body: string }[]; close(): Promise<void> }> {
  const calls: { headers: IncomingMessage['headers']; body: string }[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      calls.push({ headers: req.headers, body });
      res.statusCode = statuses.shift() ?? 200;
      res.end('ok');
    });
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    calls,
    close: () => new Promise((done) => server.close(() => done())),
  };
}

/** The command centre issue §4: an inbox for every role, webhooks to the county's gateways. */
for (const driver of DRIVERS) {
  describe(`notifications and webhooks (${driver})`, () => {
    let ctx: ApiContext;
    let dispose: () => Promise<void>;
    let now = new Date('2030-06-03T01:00:00Z');
    let place: { grid: number; township: number; district: number; otherTownship: number; x: number; y: number };
    type Who = { cookie: string };
    let centre: Who, farCentre: Who, police: Who, housing: Who, townLeader: Who, districtContact: Who;

    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      dispose = t.dispose;
      ctx = await apiContext(t.db, { clock: () => now, cache: false, webhookLoopback: true });
      place = (
        await ctx.db.query<any>(
          `SELECT g.id AS grid, v.parent_id AS township, t.parent_id AS district,
                  (SELECT o.id FROM region o WHERE o.level = 'township' AND o.id <> v.parent_id ORDER BY o.id LIMIT 1) AS "otherTownship",
                  ST_X(ST_PointOnSurface(g.geom)) AS x, ST_Y(ST_PointOnSurface(g.geom)) AS y
           FROM region g JOIN region v ON v.id = g.parent_id JOIN region t ON t.id = v.parent_id WHERE g.level = 'grid' ORDER BY g.code LIMIT 1`,
        )
      ).rows[0];
      centre = await ctx.cookie({ username: 'n-centre', role: 'center', regionId: place.township });
      farCentre = await ctx.cookie({ username: 'n-far-centre', role: 'center', regionId: place.otherTownship });
      police = await ctx.cookie({ username: 'n-police', role: 'department', department: 'police' });
      housing = await ctx.cookie({ username: 'n-housing', role: 'department', department: 'housing' });
      townLeader = await ctx.cookie({ username: 'n-town-leader', role: 'leader', regionId: place.township });
      districtContact = await ctx.cookie({ username: 'n-district-duty', role: 'leader', regionId: place.district });
    });
    afterAll(() => dispose());

    const inbox = async (who: Who) => (await ctx.request('GET', '/api/notifications?limit=200', undefined, who)).body;
    const events = async (who: Who) => (await inbox(who)).items.map((n: { event: string; incidentId: number }) => `${n.event}#${n.incidentId}`);
    const patch = (id: number, body: unknown, who: Who) => ctx.request('PATCH', `/api/dispatches/${id}`, body, who);
    const report = async () => {
      const res = await ctx.request('POST', '/api/incidents', {
        lon: place.x,
        lat: place.y,
        category: 'hazard',
        severity: 2,
        description: '路面塌陷',
        reportedAt: now.toISOString(),
      });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      now = new Date(now.getTime() + 60_000);
      return res.body as { id: number };
    };

    it('tells each step to whoever must act: received, returned, more time asked and decided, near, overdue, escalated, unsatisfied', async () => {
      // the district names its duty officer for escalations; the township keeps its leader by default
      await ctx.cookie({ username: 'n-moved-on', role: 'leader', regionId: place.district });
      // (each save names the version it read)
      const version = async (region: number) =>
        ((await ctx.request('GET', '/api/settings/escalation-contacts')).body.find((x: { regionId: number }) => x.regionId === region)?.version as number) ?? 0;
      const contacts = await ctx.request('PUT', `/api/settings/escalation-contacts/${place.district}`, {
        usernames: ['n-district-duty', 'n-moved-on'],
        version: await version(place.district),
      });
      expect(contacts.status, JSON.stringify(contacts.body)).toBe(200);
      expect(contacts.body.named.map((u: { username: string }) => u.username)).toEqual(['n-district-duty', 'n-moved-on']);
      // one of them goes to work for a department: from then on they hear of no escalation
      await ctx.db.query(`UPDATE app_user SET role = 'department', region_id = NULL, department_id = (SELECT id FROM department WHERE code = 'market')
                          WHERE username = 'n-moved-on'`);
      expect(
        (
          await ctx.request('PUT', `/api/settings/escalation-contacts/${place.district}`, {
            usernames: ['nobody-here'],
            version: await version(place.district),
          })
        ).body.error.path,
      ).toBe('usernames[0]');
      expect((await ctx.request('PUT', `/api/settings/escalation-contacts/${place.grid}`, { usernames: [], version: 0 })).status).toBe(404);
      // only those who oversee the area: not a department, not a centre of another township, nobody twice
      const refuse = async (region: number, usernames: string[]) =>
        (await ctx.request('PUT', `/api/settings/escalation-contacts/${region}`, { usernames, version: await version(region) })).body.error;
      expect(await refuse(place.district, ['n-police'])).toMatchObject({ code: 'not_allowed', path: 'usernames[0]' });
      expect(await refuse(place.township, ['n-far-centre'])).toMatchObject({ code: 'outside_scope' });
      expect(await refuse(place.district, ['n-district-duty', 'n-district-duty'])).toMatchObject({ code: 'duplicate_user', path: 'usernames[1]' });

      const hook = await receiver([]);
      const made = await ctx.request('POST', '/api/webhooks', { url: hook.url, events: ['dispatch.received', 'incident.escalated'], label: '短信网关' });
      expect(made.status, JSON.stringify(made.body)).toBe(201);
      expect(made.body.secret.length).toBeGreaterThanOrEqual(16);

      const incident = await report();
      const sent = await ctx.request(
        'POST',
        `/api/incidents/${incident.id}/dispatch`,
        {
          departments: [
            { code: 'housing', role: 'lead' },
            { code: 'police', role: 'assist' },
          ],
        },
        centre,
      );
      expect(sent.status, JSON.stringify(sent.body)).toBe(200);
      const byCode = Object.fromEntries(sent.body.dispatches.map((d: any) => [d.department.code, d]));
      expect(await events(housing)).toContain(`dispatch.received#${incident.id}`);
      expect(await events(police)).toContain(`dispatch.received#${incident.id}`);
      const received = (await inbox(housing)).items.find((n: any) => n.incidentId === incident.id);
      expect(received.text.zh).toMatch(/新派单（主办）/);
      expect(received.dispatchId).toBe(byCode.housing.id);

      // 退回 tells the centre of the area, not another township's
      await patch(byCode.police.id, { action: 'return', reason: '不属公安职责' }, police);
      expect(await events(centre)).toContain(`dispatch.returned#${incident.id}`);
      expect(await events(farCentre)).not.toContain(`dispatch.returned#${incident.id}`);
      // 延期: asked → the centre; decided → the department
      const due = Date.parse(byCode.housing.dueAt);
      await patch(byCode.housing.id, { action: 'extend', reason: '需鉴定', until: new Date(due + 24 * HOUR).toISOString() }, housing);
      expect(await events(centre)).toContain(`extension.asked#${incident.id}`);
      await patch(byCode.housing.id, { action: 'refuse_extension', reason: '已延期一次，请按期办结' }, centre);
      const decided = (await inbox(housing)).items.find((n: any) => n.event === 'extension.decided');
      // (with the centre's reason, when it gives one)
      expect(decided.text.zh).toMatch(/^延期未批准：.*前办结。已延期一次，请按期办结$/);

      // a deadline near is told once
      now = new Date(due - 30 * 60_000);
      expect(await ctx.db.transaction((tx) => notifyDeadlinesNear(tx, now))).toBeGreaterThanOrEqual(1);
      expect(await ctx.db.transaction((tx) => notifyDeadlinesNear(tx, now))).toBe(0);
      expect((await events(housing)).filter((e: string) => e === `deadline.near#${incident.id}`)).toHaveLength(1);

      // overdue: the department and the centre; escalated: the township's leader (nobody named), then the named district contact
      now = new Date(due + HOUR);
      expect((await ctx.request('POST', '/api/dispatches/escalate')).status).toBe(200);
      expect(await events(housing)).toContain(`dispatch.overdue#${incident.id}`);
      expect(await events(centre)).toContain(`dispatch.overdue#${incident.id}`);
      // saying which deadline passed, and when it was
      const late = (await inbox(centre)).items.find((n: any) => n.event === 'dispatch.overdue' && n.incidentId === incident.id);
      expect(late.text.zh).toMatch(new RegExp(`^超期：住建 #${incident.id} \\S+未在\\d+/\\d+ \\d\\d:\\d\\d前(受理（报到）|办结)$`));
      expect(await events(townLeader)).toContain(`incident.escalated#${incident.id}`);
      expect(await events(districtContact)).not.toContain(`incident.escalated#${incident.id}`);
      now = new Date(due + (due - Date.parse(byCode.housing.dispatchedAt)) + HOUR);
      await ctx.request('POST', '/api/dispatches/escalate');
      expect(await events(districtContact)).toContain(`incident.escalated#${incident.id}`);
      const movedOn = await ctx.db.query(
        `SELECT 1 FROM notification n JOIN app_user u ON u.id = n.user_id WHERE u.username = 'n-moved-on' AND n.incident_id = $1`,
        [incident.id],
      );
      expect(movedOn.rows).toEqual([]);

      // answered, closed with an unsatisfied resident: the centre and the department hear of it
      await patch(byCode.housing.id, { action: 'acknowledge' }, housing);
      await patch(byCode.housing.id, { action: 'resolve', answer: '已回填' }, housing);
      const closed = await ctx.request('PATCH', `/api/incidents/${incident.id}`, { status: 'closed', feedback: '仍有积水', satisfaction: 'unsatisfied' });
      expect(closed.status, JSON.stringify(closed.body)).toBe(200);
      expect(await events(centre)).toContain(`satisfaction.low#${incident.id}`);
      expect(await events(housing)).toContain(`satisfaction.low#${incident.id}`);

      // the webhook heard exactly its two kinds of event, signed
      // (the demo's own overdue cases escalate too: send until nothing is due)
      let delivered = 0;
      for (
        let round = (await ctx.request('POST', '/api/webhooks/deliver')).body;
        round.delivered > 0;
        round = (await ctx.request('POST', '/api/webhooks/deliver')).body
      )
        delivered += round.delivered;
      expect(delivered).toBeGreaterThanOrEqual(3);
      const kinds = hook.calls.map((c) => c.headers['x-gridplan-event']);
      expect(new Set(kinds)).toEqual(new Set(['dispatch.received', 'incident.escalated']));
      for (const call of hook.calls) {
        const expected = createHmac('sha256', made.body.secret).update(`${call.headers['x-gridplan-timestamp']}.${call.body}`).digest('hex');
        expect(call.headers['x-gridplan-signature']).toBe(`sha256=${expected}`);
      }
      const escalation = hook.calls
        .filter((c) => c.headers['x-gridplan-event'] === 'incident.escalated')
        .map((c) => JSON.parse(c.body))
        .find((b) => b.incident.id === incident.id && b.level === 1);
      expect(escalation).toMatchObject({ event: 'incident.escalated', incident: { id: incident.id, category: 'hazard' }, level: 1 });
      expect(escalation.recipients.map((r: { username: string }) => r.username)).toContain('n-town-leader');
      await hook.close();
      await ctx.request('DELETE', `/api/webhooks/${made.body.id}`);
    });

    it('tells the grid worker what came of a report: where it went, each answer, a merge, an invalid mark — not their own steps', async () => {
      const { rows } = await ctx.db.query<{ worker_id: number | null }>('SELECT worker_id FROM region WHERE id = $1', [place.grid]);
      const worker = await ctx.cookie({ username: 'n-grid-worker', role: 'worker', workerId: rows[0]!.worker_id });
      const say = (description: string) =>
        ctx.request(
          'POST',
          '/api/incidents',
          { lon: place.x, lat: place.y, category: 'sanitation', severity: 1, description, reportedAt: now.toISOString() },
          worker,
        );
      const first = (await say('垃圾堆放，无人清运')).body as { id: number };
      expect(first.id).toBeGreaterThan(0);
      now = new Date(now.getTime() + 60_000);
      const sent = await ctx.request(
        'POST',
        `/api/incidents/${first.id}/dispatch`,
        {
          departments: [
            { code: 'housing', role: 'lead' },
            { code: 'police', role: 'assist' },
          ],
        },
        centre,
      );
      expect(sent.status).toBe(200);
      const told = async (event: string, id: number) => (await inbox(worker)).items.find((n: any) => n.event === event && n.incidentId === id);
      expect((await told('incident.routed', first.id)).text.zh).toMatch(/派至 住建（主办）、公安/);
      for (const d of sent.body.dispatches as { id: number; department: { code: string } }[]) {
        const who = d.department.code === 'housing' ? housing : police;
        now = new Date(now.getTime() + 60_000);
        expect((await patch(d.id, { action: 'acknowledge' }, who)).status).toBe(200);
        expect((await patch(d.id, { action: 'resolve', answer: `${d.department.code} 已清运完毕。` }, who)).status).toBe(200);
      }
      const answers = (await inbox(worker)).items.filter((n: any) => n.event === 'dispatch.answered' && n.incidentId === first.id);
      expect(answers).toHaveLength(2);
      // the last answer says the case waits for the worker's visit back
      // (an answer's own full stop is not doubled: 已清运完毕。请回访, not 。。)
      expect(answers.map((n: any) => n.text.zh).join('|')).toMatch(/已办结 .*已清运完毕。请回访群众后结案/);
      expect(answers.map((n: any) => n.text.zh).join('|')).not.toContain('。。');
      // a second report of the same thing is merged into the first; a third is no case
      const second = (await say('同一处垃圾')).body as { id: number };
      const third = (await say('测试一下')).body as { id: number };
      now = new Date(now.getTime() + 60_000);
      expect((await ctx.request('POST', `/api/incidents/${second.id}/merge`, { into: first.id }, centre)).status).toBe(200);
      expect((await ctx.request('POST', `/api/incidents/${third.id}/invalid`, { reason: '误报，现场无此情况' }, centre)).status).toBe(200);
      expect((await told('incident.voided', second.id)).text.zh).toContain(`并入 #${first.id}`);
      expect((await told('incident.voided', third.id)).text.zh).toContain('误报，现场无此情况');
      // a step of the worker's own is no news to them: their own dispatch from the phone tells the department only
      const fourth = (
        await ctx.request(
          'POST',
          '/api/incidents',
          { lon: place.x, lat: place.y, category: 'dispute', severity: 1, description: '邻里纠纷', reportedAt: now.toISOString() },
          worker,
        )
      ).body as { id: number };
      now = new Date(now.getTime() + 60_000);
      const mine = await ctx.request('POST', `/api/incidents/${fourth.id}/dispatch`, { departments: ['mediation'] }, worker);
      expect(mine.status, JSON.stringify(mine.body)).toBe(200);
      expect(await told('incident.routed', fourth.id)).toBeUndefined();
    });

    it('an inbox is its owner’s: read one, read all; another’s is not found; the change log keeps no secret', async () => {
      const mine = await inbox(housing);
      expect(mine.unread).toBeGreaterThan(0);
      const first = mine.items[0];
      const read = await ctx.request('POST', `/api/notifications/${first.id}/read`, undefined, housing);
      expect(read.body.unread).toBe(mine.unread - 1);
      expect((await ctx.request('POST', `/api/notifications/${first.id}/read`, undefined, police)).status).toBe(404);
      expect((await ctx.request('GET', '/api/notifications?unread=true', undefined, housing)).body.items.map((n: any) => n.id)).not.toContain(first.id);
      expect((await ctx.request('POST', '/api/notifications/read', undefined, housing)).body.unread).toBe(0);
      // webhooks are the admin's
      expect((await ctx.request('GET', '/api/webhooks', undefined, centre)).status).toBe(403);
      expect((await ctx.request('POST', '/api/webhooks', { url: 'ftp://x', events: ['dispatch.received'] })).body.error.code).toBe('invalid_url');
      expect(
        (await ctx.request('POST', '/api/webhooks', { url: 'http://10.1.2.3/hook', events: ['dispatch.received'], secret: '                  ' })).body.error
          .code,
      ).toBe('secret_too_short');

      expect((await ctx.request('POST', '/api/webhooks', { url: 'https://a.example', events: ['nothing'] })).status).toBe(400);
      // not this machine's other ports (this app allows loopback for the test's receivers), never cloud metadata
      for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://[fe80::1]/x'])
        expect((await ctx.request('POST', '/api/webhooks', { url, events: ['dispatch.received'] })).body.error.code).toBe('forbidden_target');
      const { rows } = await ctx.db.query<{ after: string }>(`SELECT after::text FROM change WHERE entity = 'webhook'`);
      expect(rows.length).toBeGreaterThan(0);
      expect(rows.every((r) => !/"secret"/.test(r.after ?? ''))).toBe(true);
    });

    it('lists an inbox newest first by when each notice was dated, page after page', async () => {
      const { rows } = await ctx.db.query<{ id: number }>(`SELECT id FROM app_user WHERE username = 'n-housing'`);
      // notices dated out of the order they were written (a deadline's notice is dated when it passed)
      await ctx.db.query(
        `UPDATE notification SET created_at = timestamptz '2030-06-01T00:00:00Z' + (((id * 7919) % 97) || ' minutes')::interval WHERE user_id = $1`,
        [rows[0]!.id],
      );
      const all = (await inbox(housing)).items as { id: number; createdAt: string }[];
      expect(all.length).toBeGreaterThan(3);
      const order = (xs: typeof all) => [...xs].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id - a.id).map((n) => n.id);
      expect(all.map((n) => n.id)).toEqual(order(all));
      const pages: number[] = [];
      let before: number | null = null;
      do {
        const page: { items: { id: number }[]; next: number | null } = (
          await ctx.request('GET', `/api/notifications?limit=2${before ? `&before=${before}` : ''}`, undefined, housing)
        ).body;
        pages.push(...page.items.map((n) => n.id));
        before = page.next;
      } while (before !== null);
      expect(pages).toEqual(order(all));
    });

    it('retries a failing gateway with back-off, lets a dead one rest in the dead letters, and an admin resends it', async () => {
      const flaky = await receiver([500, 503]);
      const hook = (await ctx.request('POST', '/api/webhooks', { url: flaky.url, events: ['dispatch.received'], secret: 'a-shared-secret-of-the-county' }))
        .body;
      // nobody reads a secret back
      expect(JSON.stringify((await ctx.request('GET', '/api/webhooks')).body)).not.toContain('a-shared-secret');
      const incident = await report();
      await ctx.request('POST', `/api/incidents/${incident.id}/dispatch`, { departments: ['police'] }, centre);
      expect((await ctx.request('POST', '/api/webhooks/deliver')).body).toEqual({ delivered: 0, retried: 1, dead: 0 });
      // not due again before its back-off
      expect((await ctx.request('POST', '/api/webhooks/deliver')).body).toEqual({ delivered: 0, retried: 0, dead: 0 });
      const pending = (await ctx.request('GET', `/api/webhooks/deliveries?webhook=${hook.id}`)).body[0];
      expect((await ctx.request('POST', `/api/webhooks/deliveries/${pending.id}/resend`)).body.error.code).toBe('not_dead');
      now = new Date(now.getTime() + BACKOFF_SECONDS[0]! * 1000);
      expect((await ctx.request('POST', '/api/webhooks/deliver')).body.retried).toBe(1);
      now = new Date(now.getTime() + BACKOFF_SECONDS[1]! * 1000);
      expect((await ctx.request('POST', '/api/webhooks/deliver')).body.delivered).toBe(1);
      expect(flaky.calls).toHaveLength(3);
      expect(new Set(flaky.calls.map((c) => c.headers['x-gridplan-delivery'])).size).toBe(1);
      const done = (await ctx.request('GET', `/api/webhooks/deliveries?webhook=${hook.id}`)).body;
      expect(done[0]).toMatchObject({ status: 'delivered', attempts: 3, lastStatus: 200 });
      await flaky.close();
      await ctx.request('DELETE', `/api/webhooks/${hook.id}`);

      // a gateway that is gone: six attempts, then the dead letters
      const gone = await receiver([]);
      const url = gone.url;
      await gone.close();
      const dead = (await ctx.request('POST', '/api/webhooks', { url, events: ['dispatch.received'] })).body;
      const another = await report();
      await ctx.request('POST', `/api/incidents/${another.id}/dispatch`, { departments: ['police'] }, centre);
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        const r = (await ctx.request('POST', '/api/webhooks/deliver')).body;
        expect(r).toEqual(attempt < MAX_ATTEMPTS ? { delivered: 0, retried: 1, dead: 0 } : { delivered: 0, retried: 0, dead: 1 });
        if (attempt < MAX_ATTEMPTS) now = new Date(now.getTime() + BACKOFF_SECONDS[attempt - 1]! * 1000);
      }
      const letters = (await ctx.request('GET', '/api/webhooks/deliveries?status=dead')).body;
      expect(letters).toHaveLength(1);
      expect(letters[0]).toMatchObject({ webhookId: dead.id, attempts: MAX_ATTEMPTS, status: 'dead' });
      expect(letters[0].lastError).toMatch(/could not reach/);
      // the gateway is back: the admin resends
      const back = await receiver([]);
      await ctx.db.query('UPDATE webhook SET url = $1 WHERE id = $2', [back.url, dead.id]);
      const resent = await ctx.request('POST', `/api/webhooks/deliveries/${letters[0].id}/resend`);
      expect(resent.body).toMatchObject({ status: 'pending', attempts: 0 });
      expect((await ctx.request('POST', '/api/webhooks/deliver')).body.delivered).toBe(1);
      expect(JSON.parse(back.calls[0]!.body)).toMatchObject({ event: 'dispatch.received', incident: { id: another.id } });
      expect((await ctx.request('POST', `/api/webhooks/deliveries/${letters[0].id}/resend`)).body.error.code).toBe('already_delivered');
      await back.close();
    });
  });
}
