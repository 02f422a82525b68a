import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { InputError } from '../domain/errors.ts';
import type { Inspected } from './read.ts';

/**
 * Uploaded files waiting to be imported: each in a folder of its own (the bytes and what GDAL
 * found in them), visible only to the person who sent it (and admins), dropped a day after.
 */
export interface ImportJob extends Inspected {
  id: string;
  owner: string;
  fileName: string;
  size: number;
  createdAt: string;
}

const ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
/** File names as shown back: no folders, no control characters, at most 200 characters. */
export const cleanFileName = (name: string) =>
  // eslint-disable-next-line no-control-regex
  (name.split(/[\\/]/).pop() ?? '').replace(/[\u0000-\u001f\u007f]/g, '').slice(-200) || 'upload';

/** What one person's waiting files (uploaded, not yet imported or dropped) may take, as a number of the largest uploads. */
export const WAITING_UPLOADS = 5;
/** Bytes of uploads under way, per folder and person: counted with those waiting. */
const uploading = new Map<string, number>();

export class ImportJobs {
  constructor(
    readonly dir: string,
    private readonly ttlMs = 24 * 3600_000,
    private readonly waitingUploads = WAITING_UPLOADS,
  ) {}

  /** How many bytes of files `owner` has waiting here. */
  private async waiting(owner: string): Promise<number> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    let n = 0;
    for (const name of names) {
      if (!ID.test(name)) continue;
      const job = await readFile(join(this.dir, name, 'job.json'), 'utf8').then(
        (t) => JSON.parse(t) as ImportJob,
        () => null,
      );
      if (job?.owner === owner) n += job.size;
    }
    return n;
  }

  /**
   * Streams an upload to disk, refusing it (and keeping nothing) once it passes `maxBytes`; then
   * `inspect` reads it. `onBytes` hears how much has arrived.
   */
  async create(
    owner: string,
    fileName: string,
    body: ReadableStream<Uint8Array>,
    maxBytes: number,
    inspect: (id: string, bytes: Uint8Array) => Promise<Inspected>,
    onBytes: (n: number) => void = () => {},
  ): Promise<ImportJob> {
    await this.sweep();
    // A person's files take the server's disk until imported, dropped or a day old: a few uploads' worth.
    const key = `${this.dir}\0${owner}`;
    const quota = this.waitingUploads * maxBytes;
    const waited = await this.waiting(owner);
    const full = () => {
      const mb = Math.round(quota / 1024 / 1024);
      return new InputError(
        'too_many_uploads',
        `your uploaded files waiting to be imported take ${mb} MB, all you may keep; import or remove one first (files not imported are removed after a day)`,
        'file',
        { mb },
      );
    };
    if (waited + (uploading.get(key) ?? 0) >= quota) throw full();
    let size = 0;
    const id = randomUUID();
    const folder = join(this.dir, id);
    // (a household register holds names and phone numbers: its folder and files are the server's alone)
    await mkdir(folder, { recursive: true, mode: 0o700 });
    try {
      const count = new Transform({
        transform(chunk: Buffer, _enc, done) {
          size += chunk.length;
          uploading.set(key, (uploading.get(key) ?? 0) + chunk.length);
          const limitMb = Math.round(maxBytes / 1024 / 1024);
          if (size > maxBytes) done(new InputError('too_large', `the file is larger than ${limitMb} MB`, 'file', { limitMb }));
          else if (waited + (uploading.get(key) ?? 0) > quota) done(full());
          else {
            onBytes(size);
            done(null, chunk);
          }
        },
      });
      await pipeline(Readable.fromWeb(body as never), count, createWriteStream(join(folder, 'file'), { mode: 0o600 }));
      if (size === 0) throw new InputError('empty_file', 'the file is empty', 'file');
      const inspected = await inspect(id, new Uint8Array(await readFile(join(folder, 'file'))));
      const job: ImportJob = { id, owner, fileName: cleanFileName(fileName), size, createdAt: new Date().toISOString(), ...inspected };
      await writeFile(join(folder, 'job.json'), JSON.stringify(job), { mode: 0o600 });
      return job;
    } catch (err) {
      await rm(folder, { recursive: true, force: true });
      throw err;
    } finally {
      const left = (uploading.get(key) ?? 0) - size;
      if (left > 0) uploading.set(key, left);
      else uploading.delete(key);
    }
  }

  /** A job its owner (or an admin) may see; 404 for anyone else, as if it did not exist. */
  async get(id: string, who: { username: string; role: string }): Promise<ImportJob> {
    const missing = new InputError('not_found', `no import ${id} (imports are kept for a day)`, 'id');
    if (!ID.test(id)) throw missing;
    let job: ImportJob;
    try {
      job = JSON.parse(await readFile(join(this.dir, id, 'job.json'), 'utf8')) as ImportJob;
    } catch {
      throw missing;
    }
    if (job.owner !== who.username && who.role !== 'admin') throw missing;
    return job;
  }

  bytes(job: ImportJob): Promise<Uint8Array> {
    return readFile(join(this.dir, job.id, 'file')).then((b) => new Uint8Array(b));
  }

  /** Keeps something beside the file (the last report's rows left out), under a name of ours. */
  async keep(job: ImportJob, name: 'left-out', value: unknown): Promise<void> {
    await writeFile(join(this.dir, job.id, `${name}.json`), JSON.stringify(value), { mode: 0o600 });
  }

  /** What was kept beside the file under `name`, or null. */
  async kept<T>(job: ImportJob, name: 'left-out'): Promise<T | null> {
    return readFile(join(this.dir, job.id, `${name}.json`), 'utf8').then(
      (t) => JSON.parse(t) as T,
      () => null,
    );
  }

  async drop(id: string): Promise<void> {
    if (ID.test(id)) await rm(join(this.dir, id), { recursive: true, force: true });
  }

  /** Drops jobs older than the time they are kept. */
  async sweep(): Promise<void> {
    const names = await readdir(this.dir).catch(() => [] as string[]);
    const cutoff = Date.now() - this.ttlMs;
    for (const name of names) {
      if (!ID.test(name)) continue;
      const s = await stat(join(this.dir, name)).catch(() => null);
      if (s && s.mtimeMs < cutoff) await this.drop(name);
    }
  }
}
