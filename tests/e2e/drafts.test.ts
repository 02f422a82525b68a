import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Db } from '../../server/db/db.ts';
import { startServer, type RunningServer } from '../../server/server.ts';
import { sessionCookie } from '../support/auth.ts';
import { cloneTestDb } from '../support/db.ts';
import { describeInBrowser, launchBrowser, newPage, waitForMap, DESKTOP } from './browser.ts';

const ARTIFACTS = join(import.meta.dirname, '..', 'artifacts', 'drafts');

/** Plan versions §6: draft → compare → submit → approve (township, then district) in Chromium. */
describeInBrowser('a draft from a planner to the live plan, through two reviewers', () => {
  let server: RunningServer;
  let browser: Browser;
  let db: Db;
  let dispose: () => Promise<void>;
  const consoleErrors: string[] = [];
  let village: { id: number; township: number; bbox: [number, number, number, number] };
  let planner: string, reviewer: string, leader: string;

  beforeAll(async () => {
    await mkdir(ARTIFACTS, { recursive: true });
    ({ db, dispose } = await cloneTestDb('pglite'));
    village = (
      await db.query<{ id: number; township: number; bbox: [number, number, number, number] }>(
        `SELECT v.id, v.parent_id AS township, ARRAY[ST_XMin(v.geom), ST_YMin(v.geom), ST_XMax(v.geom), ST_YMax(v.geom)] AS bbox
         FROM region v WHERE v.level = 'village' AND (SELECT count(*) FROM region g WHERE g.parent_id = v.id) >= 3
         ORDER BY v.code LIMIT 1`,
      )
    ).rows[0]!;
    server = await startServer({ db, port: 0 });
    browser = await launchBrowser();
    planner = await sessionCookie(db, { username: 'zhang.planner', role: 'planner', regionId: village.township });
    reviewer = await sessionCookie(db, { username: 'li.township', role: 'planner', regionId: village.township });
    leader = await sessionCookie(db, { username: 'wang.district', role: 'leader', regionId: null });
  });
  afterAll(async () => {
    expect(consoleErrors).toEqual([]);
    await browser?.close();
    await server?.close();
    await dispose?.();
  });

  /** What the pages asked to confirm (accepted). */
  const asked: string[] = [];
  const open = async (cookie: string, path: string): Promise<Page> => {
    const page = await newPage(browser, server.url, cookie, DESKTOP);
    page.on('dialog', (d) => void (asked.push(d.message()), d.accept()));
    page.on('console', (m) => {
      if (m.type() === 'error') consoleErrors.push(m.text());
    });
    await page.goto(server.url + path);
    await waitForMap(page);
    return page;
  };
  const liveGrids = async () => (await db.query<{ id: number }>('SELECT id FROM region WHERE parent_id = $1 ORDER BY id', [village.id])).rows.map((r) => r.id);

  it('makes a draft, edits it without touching the live plan, compares, submits; two reviewers approve and it is published', async () => {
    const before = await liveGrids();
    const page = await open(planner, `/plan?region=${village.id}`);
    await page.click('[data-testid="drafts"] summary');
    await page.waitForSelector('[data-testid="drafts-empty"]');
    await page.click('[data-testid="draft-create"]');
    await expect.poll(() => new URL(page.url()).searchParams.get('draft'), { timeout: 30_000 }).not.toBeNull();
    const draftId = Number(new URL(page.url()).searchParams.get('draft'));
    await expect.poll(() => page.locator('[data-testid="draft-banner"]').textContent(), { timeout: 30_000 }).toContain('这里的修改只在草稿中');
    await waitForMap(page);

    // delete a grid in the draft, with the editor's own key
    const grid = before[0]!;
    await page.goto(`${server.url}/plan?region=${grid}&draft=${draftId}`);
    await waitForMap(page);
    await expect.poll(() => page.locator('[data-testid="toolbar"]').isVisible(), { timeout: 30_000 }).toBe(true);
    await page.keyboard.press('Delete');
    await expect.poll(() => page.locator('[data-testid="notice"]').textContent(), { timeout: 30_000 }).toMatch(/已删除/);
    expect(await liveGrids()).toEqual(before);
    await page.goto(`${server.url}/plan?region=${village.id}&draft=${draftId}`);
    await waitForMap(page);

    // another grid renamed and retyped in the draft (through the API, as the editor's form sends it)
    const renamed = await page.evaluate(
      async ([id, draft]) => {
        const got = await (await fetch(`/api/regions/${id}?draft=${draft}`)).json();
        const res = await fetch(`/api/regions/${id}?draft=${draft}`, {
          method: 'PATCH',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ version: got.properties.version, name: '改名网格', gridType: got.properties.gridType === 'unit' ? 'rural' : 'unit' }),
        });
        return { status: res.status, name: got.properties.name as string, type: got.properties.gridType === 'unit' ? '单位型' : null };
      },
      [before[1]!, draftId] as const,
    );
    expect(renamed.status).toBe(200);
    await page.click('[data-testid="draft-compare"]');
    await page.waitForSelector('[data-testid="comparison"]');
    expect(await page.locator('[data-testid="comparison"] .counts').textContent()).toMatch(/去掉 1 个网格.*调整 1 个网格/);
    // what changed, in words: a count alone had the reviewers approve changes they could not see
    expect(await page.locator('[data-testid="comparison-changed"] li').first().textContent()).toMatch(
      new RegExp(`^${renamed.name}：名称 ${renamed.name} → 改名网格；类型 \\S+ → ${renamed.type === null ? '单位型' : '农村型'}$`),
    );
    await page.screenshot({ path: join(ARTIFACTS, '1-draft-compared.png') });
    // the swipe: the live plan on the left of the handle, the draft on the right
    await page.click('[data-testid="swipe-toggle"]');
    await expect.poll(() => page.locator('[data-testid="swipe"]').getAttribute('data-loaded'), { timeout: 20_000 }).toBe('true');
    await page.screenshot({ path: join(ARTIFACTS, '1b-swipe.png') });
    await page.click('[data-testid="swipe-toggle"]');

    await page.fill('[data-testid="draft-note"]', '删去一个空网格');
    await page.click('[data-testid="draft-submit"]');
    // the deleted grid left a gap: said before the draft goes to review, which waits for a second word
    await expect.poll(() => page.locator('[data-testid="draft-problems"]').textContent(), { timeout: 30_000 }).toMatch(/空白 1/);
    expect(await page.locator('[data-testid="draft-status"]').textContent()).not.toBe('审核中');
    await page.screenshot({ path: join(ARTIFACTS, '1c-submit-problems.png') });
    await page.click('[data-testid="draft-submit-anyway"]');
    await expect.poll(() => page.locator('[data-testid="draft-status"]').textContent(), { timeout: 30_000 }).toBe('审核中');
    // submitted: read-only for its author
    await expect.poll(() => page.locator('[data-testid="toolbar"]').count(), { timeout: 30_000 }).toBe(0);
    expect(await page.locator('[data-testid="draft-banner"]').textContent()).toContain('只读');
    await page.close();

    // the township reviewer finds it waiting and approves the first step
    const town = await open(reviewer, `/plan?region=${village.id}`);
    await expect.poll(() => town.locator('[data-testid="drafts-awaiting"] button').count(), { timeout: 30_000 }).toBe(1);
    await town.click('[data-testid="drafts-awaiting"] button');
    await town.waitForSelector('[data-testid="draft-review"]');
    await town.fill('[data-testid="draft-comment"]', '同意，报区里审批');
    await town.screenshot({ path: join(ARTIFACTS, '2-township-review.png') });
    await town.click('[data-testid="draft-approve"]');
    await expect.poll(() => town.locator('[data-testid="draft-review"]').count(), { timeout: 30_000 }).toBe(0);
    await town.close();

    // the district's leader is told the step is theirs: the bell's notice opens the draft, at the village, on the map too
    const district = await open(leader, '/plan');
    await district.click('[data-testid="bell"]');
    const notice = district.locator('[data-testid="inbox-notice"]', { hasText: '待您审核' });
    await notice.first().waitFor({ timeout: 30_000 });
    await notice.first().click();
    await district.waitForURL(new RegExp(`/plan\\?region=${village.id}&draft=${draftId}$`));
    await district.waitForSelector('[data-testid="draft-review"]');
    // the village fills the map (half its width or height at least), where the district was in view
    const [w, s, e, n] = village.bbox;
    const fill = () =>
      district.evaluate(
        ([w, s, e, n]) => {
          const b = (window as any).gridplanMap.getBounds();
          return Math.max((e - w) / (b.getEast() - b.getWest()), (n - s) / (b.getNorth() - b.getSouth()));
        },
        [w, s, e, n] as const,
      );
    await expect.poll(fill, { timeout: 30_000 }).toBeGreaterThan(0.5);
    expect(await district.locator('[data-testid="draft-events"]').textContent()).toContain('同意，报区里审批');
    await district.screenshot({ path: join(ARTIFACTS, '3-district-approval.png') });
    const askedBefore = asked.length;
    await district.click('[data-testid="draft-approve"]');
    await expect.poll(() => district.locator('[data-testid="drafts-notice"]').textContent(), { timeout: 30_000 }).toContain('已发布');
    // published at once, for everyone: asked first (it had gone live on one click)
    expect(asked.slice(askedBefore)).toEqual([expect.stringMatching(/^通过并立即发布「.+」为现行方案？/)]);
    await expect.poll(() => new URL(district.url()).searchParams.get('draft'), { timeout: 30_000 }).toBeNull();
    await waitForMap(district);
    expect(await liveGrids()).toEqual(before.filter((id) => id !== grid));
    await expect.poll(() => district.locator('[data-testid="versions"] li').count(), { timeout: 30_000 }).toBe(1);
    await district.screenshot({ path: join(ARTIFACTS, '4-published.png') });
    await district.close();

    // the author's link to the draft (the bell's "published" notice, a bookmark) opens the live plan, saying why: its copy is gone
    const seen = consoleErrors.length;
    const later = await open(planner, `/plan?region=${village.id}&draft=${draftId}`);
    await expect.poll(() => later.locator('[data-testid="drafts-gone"]').textContent(), { timeout: 30_000 }).toContain('已发布');
    expect(new URL(later.url()).searchParams.get('draft')).toBeNull();
    await waitForMap(later);
    expect(await later.locator('[role="alert"]').count()).toBe(0);
    await later.close();
    // (the draft is read before anything of its plan: nothing asks for the copy that is gone)
    expect(consoleErrors.splice(seen)).toEqual([]);
  });
});
