import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApiKey } from '../../server/db/accounts.ts';
import { apiContext, cloneTestDb, DRIVERS, type ApiContext } from '../support/db.ts';

/**
 * Every write endpoint, fed generated bad and odd input: broken GeoJSON, huge coordinates, deep
 * nesting, wrong types, unicode, empty strings, duplicate ids, bodies that are not JSON. Never a
 * 5xx; every refusal is the error shape; a refused request leaves the database exactly as it was.
 * FUZZ_RUNS sets the number of inputs per driver (default 4,000: the suite must stay within CI's 20
 * minutes on two cores; `FUZZ_RUNS=50000 npx vitest run tests/api/fuzz.test.ts` for a long run).
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 4_000);

const odd = fc.oneof(
  fc.constantFrom<unknown>(
    null,
    '',
    ' ',
    '\u0000',
    '💥🧨',
    '网格\u202e',
    'NaN',
    'Infinity',
    '-1',
    '1e309',
    1e308,
    -1e308,
    -0,
    2 ** 31,
    2 ** 53 + 2,
    -1,
    0,
    0.5,
    1e-320,
    true,
    false,
    [],
    {},
    [[]],
    [[[[]]]],
    { type: 'Polygon' },
    { type: 'Polygon', coordinates: [] },
    '<script>alert(1)</script>',
    "'; DROP TABLE region; --",
    'x'.repeat(70_000),
    Array.from({ length: 20_000 }, () => 1),
  ),
  fc.string({ unit: 'grapheme', maxLength: 40 }),
  fc.integer(),
  fc.double(),
  fc.jsonValue({ maxDepth: 4 }),
  fc.integer({ min: 20, max: 3_000 }).map((depth) => JSON.parse('['.repeat(depth) + ']'.repeat(depth))),
);

const coordinate = fc.oneof(
  fc.double({ min: 103.5, max: 104.5, noNaN: true }),
  fc.constantFrom<unknown>(180.0000001, -181, 1e300, -1e300, '104.1', null, [], 104),
  fc.double(),
);
const ring = fc.array(fc.array(coordinate, { minLength: 0, maxLength: 4 }), { minLength: 0, maxLength: 12 });
const geometry = fc.oneof(
  fc.record({
    type: fc.constantFrom('Polygon', 'MultiPolygon', 'LineString', 'Point', 'polygon', ''),
    coordinates: fc.oneof(fc.array(ring, { maxLength: 3 }), ring, odd),
  }),
  // A valid-looking square, sometimes unclosed or self-crossing.
  fc
    .tuple(
      fc.double({ min: 103.6, max: 104.4, noNaN: true }),
      fc.double({ min: 25.4, max: 26.0, noNaN: true }),
      fc.double({ min: 1e-7, max: 0.05, noNaN: true }),
      fc.constantFrom('closed', 'open', 'bowtie', 'duplicate'),
    )
    .map(([x, y, d, shape]) => {
      const sq = [
        [x, y],
        [x + d, y],
        [x + d, y + d],
        [x, y + d],
      ];
      const coords =
        shape === 'bowtie'
          ? [
              [x, y],
              [x + d, y + d],
              [x + d, y],
              [x, y + d],
              [x, y],
            ]
          : shape === 'open'
            ? sq
            : shape === 'duplicate'
              ? [...sq, sq[3], sq[0]]
              : [...sq, sq[0]];
      return { type: 'Polygon', coordinates: [coords] };
    }),
  odd,
);
const featureCollection = fc.oneof(
  fc.record({
    type: fc.constantFrom('FeatureCollection', 'Feature', 'featurecollection'),
    features: fc.oneof(
      fc.array(
        fc.record({
          type: fc.constantFrom('Feature', 'feature'),
          geometry,
          properties: fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), odd, { maxKeys: 3 }), odd),
        }),
        { maxLength: 4 },
      ),
      odd,
    ),
  }),
  odd,
);

/** A template body with one field replaced, removed, or the whole body swapped for something odd. */
function mutate(template: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> {
  const keys = Object.keys(template);
  const valid = fc.record(template);
  return fc.oneof(
    { weight: 4, arbitrary: fc.tuple(valid, fc.constantFrom(...keys), odd).map(([body, key, value]) => ({ ...(body as object), [key]: value })) },
    {
      weight: 2,
      arbitrary: fc.tuple(valid, fc.constantFrom(...keys)).map(([body, key]) => Object.fromEntries(Object.entries(body as object).filter(([k]) => k !== key))),
    },
    { weight: 1, arbitrary: fc.tuple(valid, fc.string({ maxLength: 10 }), odd).map(([body, key, value]) => ({ ...(body as object), [key]: value })) },
    { weight: 1, arbitrary: valid },
    { weight: 1, arbitrary: odd },
  );
}

/** A request body as sent: JSON, or bytes that are not quite JSON. */
const rawBody = (json: fc.Arbitrary<unknown>) =>
  fc.oneof(
    { weight: 8, arbitrary: json.map((v) => JSON.stringify(v) ?? 'undefined') },
    { weight: 1, arbitrary: json.map((v) => (JSON.stringify(v) ?? '').slice(0, -1)) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('', '{', 'null', '{"a":1}{"b":2}', '\uFEFF{}', '['.repeat(100_000), '{"__proto__":{"admin":true}}', 'lon,lat\n1,2', '\u0000'),
    },
  );

const idParam = fc.oneof(
  { weight: 3, arbitrary: fc.constant('REAL') },
  { weight: 1, arbitrary: fc.constantFrom('0', '-1', 'abc', '1.5', '99999999999999999999', '1e3', '%00', '網格', '999999') },
);

for (const driver of DRIVERS) {
  describe(`fuzzing every write endpoint (${driver})`, () => {
    let ctx: ApiContext;
    let dispose: () => Promise<void>;
    let place: {
      village: number;
      grid: number;
      grid2: number;
      incident: number;
      dispatch: number;
      user: number;
      token: number;
      x: number;
      y: number;
      apiKey: string;
      draft: number;
    };

    beforeAll(async () => {
      const t = await cloneTestDb(driver);
      dispose = t.dispose;
      ctx = await apiContext(t.db);
      const { rows } = await ctx.db.query<any>(
        `WITH v AS (SELECT v.id FROM region v WHERE v.level = 'village' AND (SELECT count(*) FROM region g WHERE g.parent_id = v.id) >= 2
          ORDER BY v.household_count, v.id LIMIT 1),
              g AS (SELECT g.id, ST_PointOnSurface(g.geom) AS p FROM region g, v WHERE g.parent_id = v.id ORDER BY g.id LIMIT 2)
         SELECT (SELECT id FROM v) AS village, (SELECT min(id) FROM g) AS grid, (SELECT max(id) FROM g) AS grid2,
                (SELECT ST_X(p) FROM g ORDER BY id LIMIT 1) AS x, (SELECT ST_Y(p) FROM g ORDER BY id LIMIT 1) AS y,
                (SELECT id FROM incident WHERE status <> 'closed' ORDER BY id LIMIT 1) AS incident,
                (SELECT id FROM dispatch WHERE resolved_at IS NULL ORDER BY id LIMIT 1) AS dispatch`,
      );
      place = rows[0];
      place.user = (await ctx.request('POST', '/api/users', { username: 'fuzz.target', password: 'a long password', role: 'analyst' })).body.id;
      place.token = (await ctx.request('POST', '/api/screen-tokens', { label: 'fuzz' })).body.id;
      place.apiKey = (await createApiKey(ctx.db, 'fuzz', 'hotline')).key;
      place.draft = (await ctx.request('POST', '/api/drafts', { regionId: place.village, name: 'fuzz' })).body.id;
    });
    afterAll(() => dispose());

    /**
     * Every table a write could touch counts its committed writes into one row: a statement that
     * changed a row bumps the count in its own transaction, so a refusal that rolled back leaves it as
     * it was. Reading one number per request replaced a snapshot of 20 aggregates (two thirds of each
     * input's time, mostly planning that statement). The count is stricter than the snapshot was: any
     * committed change of a row counts, not only one that moves a count or a sum.
     */
    const WATCHED = [
      'region',
      'household',
      'incident',
      'change',
      'worker',
      'app_user',
      'screen_token',
      'dispatch',
      'grid_staff',
      'staff_role',
      'incident_photo',
      'draft',
      'draft_event',
      'plan_version',
      'approval_step',
      'patrol',
      'patrol_visit',
      'webhook',
      'webhook_delivery',
      'notification',
      'escalation_contact',
      'assessment_rule',
    ];
    const watchWrites = async () => {
      await ctx.db.query('CREATE TABLE fuzz_writes (n bigint NOT NULL)');
      await ctx.db.query('INSERT INTO fuzz_writes VALUES (0)');
      await ctx.db.query(`CREATE FUNCTION fuzz_wrote() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN IF EXISTS (SELECT 1 FROM touched) THEN UPDATE fuzz_writes SET n = n + 1; END IF; RETURN NULL; END $$`);
      // A trigger with a transition table takes one event: three per table.
      for (const table of WATCHED)
        for (const event of ['INSERT', 'UPDATE', 'DELETE'])
          await ctx.db.query(
            `CREATE TRIGGER fuzz_${event.toLowerCase()} AFTER ${event} ON ${table} REFERENCING ${event === 'DELETE' ? 'OLD' : 'NEW'} TABLE AS touched
             FOR EACH STATEMENT EXECUTE FUNCTION fuzz_wrote()`,
          );
    };
    const state = async () => (await ctx.db.query<{ n: string }>('SELECT n::text FROM fuzz_writes')).rows[0]!.n;

    type Case = { method: string; path: string; body: string | undefined; type?: string; headers?: Record<string, string> };
    const endpoints: [string, number, fc.Arbitrary<Case>][] = [];
    const add = (name: string, share: number, arb: fc.Arbitrary<Case>) => endpoints.push([name, share, arb]);
    const withId = (pattern: string, real: () => number) => idParam.map((id) => pattern.replace(':id', id === 'REAL' ? String(real()) : id));
    const json = (method: string, path: fc.Arbitrary<string> | string, body: fc.Arbitrary<unknown>) =>
      fc.tuple(typeof path === 'string' ? fc.constant(path) : path, rawBody(body)).map(([p, b]) => ({ method, path: p, body: b }));

    const version = fc.oneof(fc.integer({ min: 1, max: 3 }), odd);
    add(
      'POST /api/regions',
      12,
      json(
        'POST',
        '/api/regions',
        mutate({
          parentId: fc.constant(0).map(() => place.village),
          geometry,
          name: fc.string({ maxLength: 20 }),
          gridType: fc.constantFrom('rural', 'scattered', 'x'),
          clip: fc.boolean(),
          workerId: fc.oneof(fc.constant(null), fc.integer()),
        }),
      ),
    );
    add(
      'PATCH /api/regions/:id',
      12,
      json(
        'PATCH',
        withId('/api/regions/:id', () => place.grid),
        mutate({
          version,
          name: fc.string({ maxLength: 20 }),
          geometry,
          gridType: fc.constantFrom('rural', null, 'x'),
          notes: fc.string(),
          neighbours: fc.constantFrom('adjust', 'keep', 'both'),
          workerId: fc.oneof(fc.constant(null), fc.integer()),
          staff: fc.oneof(
            fc.array(
              fc.record({ workerId: fc.oneof(fc.integer({ min: 1, max: 60 }), odd), role: fc.constantFrom('police', 'full_time', 'grid_leader', 'x', '') }),
              { maxLength: 4 },
            ),
            odd,
          ),
        }),
      ),
    );
    add(
      'POST /api/workers',
      3,
      json(
        'POST',
        '/api/workers',
        mutate({
          name: fc.string({ unit: 'grapheme', maxLength: 60 }),
          phone: fc.oneof(fc.constantFrom('138****0000', '+86 139', ''), fc.string({ maxLength: 25 })),
          role: fc.constantFrom('police', 'full_time', 'chief', ''),
        }),
      ),
    );
    add(
      'PUT /api/staff-roles',
      3,
      json(
        'PUT',
        '/api/staff-roles',
        mutate({
          roles: fc.oneof(
            fc.array(
              fc.record({
                code: fc.constantFrom('police', 'full_time', 'grid_leader', 'new_role', 'Bad Code', ''),
                zh: fc.string({ unit: 'grapheme', maxLength: 22 }),
                en: fc.string({ maxLength: 42 }),
                minPerGrid: fc.oneof(fc.integer({ min: -1, max: 21 }), odd),
              }),
              { maxLength: 4 },
            ),
            odd,
          ),
        }),
      ),
    );
    add(
      'POST /api/incidents/:id/photos',
      3,
      fc
        .tuple(
          withId('/api/incidents/:id/photos', () => place.incident),
          fc.oneof(fc.string({ maxLength: 200 }), fc.constantFrom('', '\u00ff\u00d8\u00ff', 'RIFF....WEBP', '<svg/>', 'GIF89a')),
          fc.constantFrom('image/jpeg', 'image/png', 'image/gif', 'application/json', 'text/plain', 'image/svg+xml'),
        )
        .map(([path, body, type]) => ({ method: 'POST', path, body, type })),
    );
    add(
      'POST /api/regions/:id/split',
      8,
      json(
        'POST',
        withId('/api/regions/:id/split', () => place.grid),
        mutate({
          version,
          line: fc.oneof(fc.record({ type: fc.constant('LineString'), coordinates: fc.array(fc.array(coordinate, { maxLength: 3 }), { maxLength: 5 }) }), odd),
        }),
      ),
    );
    add(
      'POST /api/regions/merge',
      6,
      json(
        'POST',
        '/api/regions/merge',
        mutate({
          ids: fc.oneof(
            fc.constant(0).map(() => [place.grid, place.grid2]),
            fc.constant(0).map(() => [place.grid, place.grid]),
            fc.array(fc.integer(), { maxLength: 5 }),
          ),
          versions: fc.array(version, { maxLength: 3 }),
        }),
      ),
    );
    add(
      'DELETE /api/regions/:id',
      4,
      fc
        .tuple(
          withId('/api/regions/:id', () => place.grid2),
          fc.oneof(
            fc.constantFrom('', '?version=', '?version=abc', '?version=-1', '?version=1e400', '?version=1&version=2'),
            fc.string({ maxLength: 8 }).map((s) => `?version=${encodeURIComponent(s)}`),
          ),
        )
        .map(([p, q]) => ({ method: 'DELETE', path: p + q, body: undefined })),
    );
    add(
      'POST /api/regions/import',
      8,
      json(
        'POST',
        '/api/regions/import',
        mutate({
          parentId: fc.oneof(
            fc.constant(0).map(() => place.village),
            fc.constant(null),
          ),
          level: fc.constantFrom('grid', 'village', 'district', 'planet'),
          features: featureCollection,
          repair: fc.boolean(),
          partial: fc.boolean(),
          strict: fc.boolean(),
        }),
      ),
    );
    add(
      'POST /api/regions/:id/autosplit',
      2,
      json(
        'POST',
        withId('/api/regions/:id/autosplit', () => place.village),
        mutate({
          gridType: fc.constantFrom('rural', 'unit', 'x'),
          min: fc.integer({ min: -5, max: 40 }),
          max: fc.integer({ min: -5, max: 40 }),
          target: fc.integer({ min: -5, max: 40 }),
          barriers: featureCollection,
          keep: fc.array(fc.integer(), { maxLength: 3 }),
          commit: fc.constant(false),
        }),
      ),
    );
    const csv = fc
      .array(
        fc.array(fc.oneof(fc.string({ maxLength: 12 }), coordinate.map(String)), { maxLength: 8 }).map((cells) => cells.join(',')),
        { maxLength: 6 },
      )
      .map((lines) => ['lon,lat,size,address', ...lines].join('\n'));
    add(
      'POST /api/households/import',
      8,
      fc.oneof(
        json('POST', fc.constantFrom('/api/households/import', '/api/households/import?partial=true'), featureCollection),
        fc
          .tuple(
            fc.constantFrom('/api/households/import', '/api/households/import?partial=true'),
            csv,
            fc.constantFrom('text/csv', 'text/plain', 'application/octet-stream', 'text/csv; charset=gbk'),
          )
          .map(([path, body, type]) => ({ method: 'POST', path, body, type })),
      ),
    );
    add(
      'POST /api/incidents',
      10,
      json(
        'POST',
        '/api/incidents',
        mutate({
          lon: coordinate,
          lat: fc.oneof(fc.double({ min: 25.4, max: 26, noNaN: true }), odd),
          category: fc.constantFrom('fire', 'hazard', 'ufo', ''),
          severity: fc.oneof(fc.integer({ min: 0, max: 5 }), odd),
          description: fc.string({ unit: 'grapheme', maxLength: 50 }),
          reportedAt: fc.oneof(
            fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
            fc.string({ maxLength: 25 }),
          ),
          reporterId: fc.oneof(fc.constant(null), fc.integer()),
        }),
      ),
    );
    add(
      'POST /api/incidents/import',
      6,
      fc.oneof(
        json('POST', '/api/incidents/import', featureCollection),
        fc
          .tuple(
            csv.map((c) => c.replace('lon,lat,size,address', 'lon,lat,category,severity,description,reported_at,reporter_id')),
            fc.constantFrom('text/csv', 'application/x-www-form-urlencoded'),
          )
          .map(([body, type]) => ({ method: 'POST', path: '/api/incidents/import', body, type })),
      ),
    );
    add(
      'PATCH /api/incidents/:id',
      8,
      json(
        'PATCH',
        withId('/api/incidents/:id', () => place.incident),
        mutate({
          status: fc.constantFrom('dispatched', 'resolved', 'closed', 'reported', 'lost'),
          department: fc.string({ maxLength: 120 }),
          feedback: fc.string({ maxLength: 30 }),
          version: fc.oneof(fc.integer({ min: 1, max: 4 }), odd),
          at: fc.string({ maxLength: 30 }),
        }),
      ),
    );
    add(
      'POST /api/incidents/:id/dispatch',
      4,
      json(
        'POST',
        withId('/api/incidents/:id/dispatch', () => place.incident),
        mutate({
          departments: fc.oneof(fc.array(fc.constantFrom('police', 'fire', 'nobody', ''), { maxLength: 12 }), odd),
          version: fc.oneof(fc.integer({ min: 1, max: 4 }), odd),
        }),
      ),
    );
    add(
      'PATCH /api/dispatches/:id',
      4,
      json(
        'PATCH',
        withId('/api/dispatches/:id', () => place.dispatch),
        mutate({
          action: fc.constantFrom('acknowledge', 'resolve', 'close', 'urge', 'set_due', 'reassign', ''),
          answer: fc.string({ unit: 'grapheme', maxLength: 40 }),
          until: fc.oneof(fc.constantFrom('2031-01-01T00:00:00Z', '9999-12-31T23:59:59-14:00', 'tomorrow', ''), odd),
          department: fc.oneof(fc.constantFrom('police', 'fire', 'nobody', ''), odd),
          reason: fc.oneof(fc.string({ unit: 'grapheme', maxLength: 40 }), odd),
          version: fc.oneof(fc.integer({ min: 1, max: 4 }), odd),
        }),
      ),
    );
    add(
      'POST /api/dispatches/urge',
      2,
      json(
        'POST',
        '/api/dispatches/urge',
        mutate({
          ids: fc.oneof(
            fc.array(
              fc.oneof(
                fc.constant(0).map(() => place.dispatch),
                fc.integer({ min: -2, max: 3_000_000_000 }),
              ),
              { maxLength: 120 },
            ),
            odd,
          ),
          reason: fc.oneof(fc.string({ unit: 'grapheme', maxLength: 40 }), odd),
        }),
      ),
    );
    add(
      'POST /api/intake/hotline',
      6,
      fc
        .tuple(
          json(
            'POST',
            '/api/intake/hotline',
            mutate({
              orderNo: fc.oneof(fc.constantFrom('F-1', 'F-2', ''), fc.string({ maxLength: 70 })),
              receivedAt: fc.oneof(
                fc.date({ noInvalidDate: true }).map((d) => d.toISOString()),
                fc.string({ maxLength: 25 }),
              ),
              address: fc.string({ unit: 'grapheme', maxLength: 40 }),
              lon: coordinate,
              lat: fc.oneof(fc.double({ min: 25.4, max: 26, noNaN: true }), odd),
              category: fc.string({ unit: 'grapheme', maxLength: 10 }),
              content: fc.string({ unit: 'grapheme', maxLength: 40 }),
              callerPhone: fc.string({ maxLength: 20 }),
              severity: fc.oneof(fc.integer({ min: 0, max: 5 }), odd),
            }),
          ),
          fc.constantFrom('REAL', 'gpk_wrong', ''),
        )
        .map(([c, key]) => ({ ...c, headers: { 'x-api-key': key === 'REAL' ? place.apiKey : key } })),
    );
    add(
      'POST /api/users',
      6,
      json(
        'POST',
        '/api/users',
        mutate({
          username: fc.oneof(fc.constantFrom('tester', 'fuzz.target', 'FUZZ.TARGET', 'ab'), fc.string({ maxLength: 70 })),
          password: fc.string({ maxLength: 12 }),
          role: fc.constantFrom('planner', 'worker', 'admin', 'root'),
          regionId: fc.oneof(fc.constant(null), fc.integer()),
          workerId: fc.oneof(fc.constant(null), fc.integer()),
          displayName: fc.string({ maxLength: 120 }),
        }),
      ),
    );
    add(
      'PATCH /api/users/:id',
      4,
      json(
        'PATCH',
        withId('/api/users/:id', () => place.user),
        mutate({
          role: fc.constantFrom('planner', 'worker', 'root'),
          password: fc.string({ maxLength: 12 }),
          regionId: fc.oneof(fc.constant(null), fc.integer()),
          workerId: fc.oneof(fc.constant(null), fc.integer()),
          disabled: fc.oneof(fc.boolean(), odd),
        }),
      ),
    );
    add(
      'POST /api/screen-tokens',
      2,
      json('POST', '/api/screen-tokens', mutate({ label: fc.string({ maxLength: 120 }), regionId: fc.oneof(fc.constant(null), fc.integer()) })),
    );
    add(
      'DELETE /api/screen-tokens/:id',
      1,
      withId('/api/screen-tokens/:id', () => place.token + 1000).map((path) => ({ method: 'DELETE', path, body: undefined })),
    );
    add('POST /api/hotline-keys', 1, json('POST', '/api/hotline-keys', mutate({ label: fc.string({ maxLength: 120 }) })));
    add(
      'DELETE /api/hotline-keys/:id',
      1,
      withId('/api/hotline-keys/:id', () => 1000).map((path) => ({ method: 'DELETE', path, body: undefined })),
    );
    add(
      'POST /api/auth/login',
      3,
      json('POST', '/api/auth/login', mutate({ username: fc.constantFrom('tester', 'fuzz.target', ''), password: fc.string({ maxLength: 300 }) })),
    );
    // Drafts: made, written on (a draft's own writes land in its schema, which the state above does
    // not see: a refused one must still leave the drafts' records alone), sent through review.
    const draftId = fc.oneof(fc.constant('REAL'), fc.constantFrom('0', '-1', '999999', 'x', '1e3'));
    const onDraft = (pattern: string) =>
      fc
        .tuple(
          withId(pattern, () => place.grid),
          draftId,
        )
        .map(([p, d]) => `${p}?draft=${d === 'REAL' ? place.draft : d}`);
    add(
      'POST /api/drafts',
      2,
      json(
        'POST',
        '/api/drafts',
        mutate({
          regionId: fc.oneof(
            fc.constant(0).map(() => place.village),
            fc.integer(),
          ),
          name: fc.string({ maxLength: 120 }),
        }),
      ),
    );
    add('PATCH /api/regions/:id?draft', 3, json('PATCH', onDraft('/api/regions/:id'), mutate({ version, name: fc.string({ maxLength: 120 }), geometry })));
    add(
      'POST /api/drafts/:id/submit',
      1,
      json(
        'POST',
        withId('/api/drafts/:id/submit', () => place.draft),
        mutate({ note: fc.string({ maxLength: 40 }), version }),
      ),
    );
    add(
      'POST /api/drafts/:id/review',
      2,
      json(
        'POST',
        withId('/api/drafts/:id/review', () => place.draft),
        mutate({
          decision: fc.constantFrom('approve', 'reject', 'changes', 'maybe'),
          comment: fc.string({ maxLength: 40 }),
          effectiveFrom: fc.constantFrom('2099-01-01', '2026-02-30', 'soon'),
          version,
        }),
      ),
    );
    add(
      'POST /api/drafts/:id/comments',
      1,
      json(
        'POST',
        withId('/api/drafts/:id/comments', () => place.draft),
        mutate({ comment: fc.string({ maxLength: 40 }), gridId: fc.oneof(fc.constant(null), fc.integer()) }),
      ),
    );
    add(
      'POST /api/drafts/:id/rebase',
      1,
      withId('/api/drafts/:id/rebase', () => place.draft).map((path) => ({ method: 'POST', path, body: undefined })),
    );
    add(
      'PUT /api/approval-steps',
      1,
      json(
        'PUT',
        '/api/approval-steps',
        mutate({
          steps: fc.array(
            fc.record({
              level: fc.constantFrom('district', 'township', 'grid'),
              zh: fc.string({ maxLength: 50 }),
              en: fc.string(),
              roles: fc.array(fc.constantFrom('leader', 'analyst', 'x')),
            }),
            { maxLength: 7 },
          ),
        }),
      ),
    );
    add('POST /api/auth/screen', 1, json('POST', '/api/auth/screen', mutate({ token: fc.string({ maxLength: 120 }) })));
    // The command centre: patrols, webhooks, escalation contacts, the intake's steps, the assessment's rules.
    const instant = fc.constantFrom('2026-01-01T00:00:00Z', '2026-01-01T01:00:00Z', '2099-01-01T00:00:00Z', 'yesterday', '');
    add(
      'POST /api/patrols',
      3,
      json(
        'POST',
        '/api/patrols',
        mutate({
          key: fc.oneof(fc.constantFrom('fuzz-patrol-1', 'fuzz-patrol-2'), fc.string({ maxLength: 12 })),
          gridId: fc.oneof(
            fc.constant(0).map(() => place.grid),
            fc.integer(),
          ),
          startedAt: instant,
          endedAt: instant,
          track: fc.array(fc.array(fc.oneof(fc.double({ min: -200, max: 200, noNaN: true }), fc.integer()), { maxLength: 4 }), { maxLength: 5 }),
          visits: fc.array(fc.record({ householdId: fc.oneof(fc.integer(), odd), at: instant }), { maxLength: 3 }),
        }),
      ),
    );
    add(
      'POST /api/webhooks',
      1,
      json(
        'POST',
        '/api/webhooks',
        mutate({
          url: fc.constantFrom('http://127.0.0.1:9/hook', 'ftp://x', 'not a url', 'https://u:p@example.org/', ''),
          events: fc.array(fc.constantFrom('dispatch.received', 'incident.escalated', 'x'), { maxLength: 3 }),
          secret: fc.string({ maxLength: 40 }),
          label: fc.string({ maxLength: 120 }),
        }),
      ),
    );
    add(
      'PUT /api/settings/escalation-contacts/:id',
      1,
      json(
        'PUT',
        withId('/api/settings/escalation-contacts/:id', () => place.village),
        mutate({ usernames: fc.array(fc.constantFrom('tester', 'nobody', ''), { maxLength: 3 }) }),
      ),
    );
    for (const step of ['invalid', 'reopen'] as const) {
      add(
        `POST /api/incidents/:id/${step}`,
        1,
        json(
          'POST',
          withId(`/api/incidents/:id/${step}`, () => place.incident),
          mutate({ reason: fc.string({ maxLength: 20 }), version }),
        ),
      );
    }
    add(
      'POST /api/incidents/:id/merge',
      1,
      json(
        'POST',
        withId('/api/incidents/:id/merge', () => place.incident),
        mutate({
          into: fc.oneof(
            fc.integer(),
            fc.constant(0).map(() => place.incident),
          ),
          version,
        }),
      ),
    );
    add(
      'PUT /api/assessment/rules',
      1,
      json(
        'PUT',
        '/api/assessment/rules',
        mutate({
          rules: fc.array(
            fc.record({ measure: fc.constantFrom('report', 'on_spot', 'x'), points: fc.oneof(fc.double({ noNaN: false }), fc.integer()), version }),
            { maxLength: 3 },
          ),
        }),
      ),
    );
    add(
      'POST /api/notifications/:id/read',
      1,
      withId('/api/notifications/:id/read', () => 1).map((path) => ({ method: 'POST', path, body: undefined })),
    );

    it(`never answers ${RUNS.toLocaleString('en')} bad or odd inputs with a 5xx, and a refusal writes nothing`, async () => {
      const total = endpoints.reduce((s, [, share]) => s + share, 0);
      const tally: Record<string, Record<string, number>> = {};
      let sent = 0;
      // The state after one request is the state before the next: one snapshot per request.
      await watchWrites();
      let current = await state();
      for (const [name, share, arb] of endpoints) {
        const runs = Math.max(1, Math.round((RUNS * share) / total));
        await fc.assert(
          fc.asyncProperty(arb, async (c) => {
            const before = current;
            const headers: Record<string, string> = { ...c.headers };
            if (c.body !== undefined) headers['content-type'] = c.type ?? 'application/json';
            const res = await ctx.request(c.method, c.path, c.body, headers);
            sent++;
            (tally[name] ??= {})[res.status] = (tally[name]![res.status] ?? 0) + 1;
            expect(res.status, `${c.method} ${c.path} ${String(c.body).slice(0, 300)} → ${JSON.stringify(res.body).slice(0, 300)}`).toBeLessThan(500);
            current = await state();
            if (res.status >= 400) {
              expect(res.body?.error, JSON.stringify(res.body).slice(0, 300)).toMatchObject({
                code: expect.any(String),
                message: expect.any(String),
                path: expect.any(String),
              });
              expect(current, `${c.method} ${c.path} was refused (${res.status} ${res.body.error.code}) but wrote`).toBe(before);
            }
          }),
          { numRuns: runs, seed: 20261123, endOnFailure: true },
        );
      }
      console.log(`fuzz (${driver}): ${sent} requests`, JSON.stringify(tally));
      expect(sent).toBeGreaterThanOrEqual(RUNS - endpoints.length);
    }, 900_000);
  });
}
