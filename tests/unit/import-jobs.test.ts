import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { ImportJobs } from '../../server/files/jobs.ts';

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const body = (bytes: number) => new Blob([new Uint8Array(bytes)]).stream();
const inspect = async () => ({ driver: 'GeoJSON', layers: [], warnings: [] }) as never;

it('keeps only a few uploads’ worth of one person’s files waiting, counting uploads under way, and nobody else’s', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'gp-jobs-'));
  dirs.push(dir);
  // Uploads of at most 100 bytes; two of them waiting at most (200 bytes).
  const jobs = new ImportJobs(dir, 24 * 3600_000, 2);
  let release!: () => void;
  const slow = new Promise<void>((done) => (release = done));
  // One upload still being read counts: 90 + 90 fit, the next 30 bytes do not.
  let arrived!: () => void;
  const read = new Promise<void>((done) => (arrived = done));
  const first = jobs.create(
    'li',
    'a.geojson',
    body(90),
    100,
    async () => (await slow, inspect()),
    (n) => n === 90 && arrived(),
  );
  await read;
  const second = await jobs.create('li', 'b.geojson', body(90), 100, inspect);
  await expect(jobs.create('li', 'c.geojson', body(30), 100, inspect)).rejects.toMatchObject({ code: 'too_many_uploads' });
  release();
  await first;
  // Someone else may still upload; once one of li's files goes, li may again.
  await expect(jobs.create('wang', 'd.geojson', body(100), 100, inspect)).resolves.toMatchObject({ owner: 'wang' });
  await expect(jobs.create('li', 'e.geojson', body(10), 100, inspect)).resolves.toMatchObject({ owner: 'li' });
  await expect(jobs.create('li', 'f.geojson', body(20), 100, inspect)).rejects.toMatchObject({ code: 'too_many_uploads' });
  await jobs.drop(second.id);
  await expect(jobs.create('li', 'f.geojson', body(20), 100, inspect)).resolves.toMatchObject({ owner: 'li' });
  // Refused uploads leave nothing behind.
  expect((await readdir(dir)).length).toBe(4);
});
