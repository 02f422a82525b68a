import { Readable } from 'node:stream';
import type { Context } from 'hono';
import { z } from '@hono/zod-openapi';
import Papa from 'papaparse';
import { InputError } from '../domain/errors.ts';
import { MAX_JSON_DEPTH, parseJsonBytes } from './body.ts';

/** The upload's media type: CSV or GeoJSON; anything else is 415. */
export function uploadType(contentType: string | undefined): 'text/csv' | 'application/json' | 'application/geo+json' {
  const type = (contentType ?? '').split(';')[0]!.trim().toLowerCase();
  if (type !== 'text/csv' && type !== 'application/json' && type !== 'application/geo+json') {
    throw new InputError('unsupported_media_type', `send text/csv or application/geo+json, not ${JSON.stringify(type || 'nothing')}`, 'content-type');
  }
  return type;
}

export const RowError = z.object({ index: z.number().int(), code: z.string(), message: z.string(), path: z.string() });
export type RowErrorT = z.infer<typeof RowError>;

/** Rows of a streamed CSV file (header row, lower-cased), each parsed or reported with its line. */
export async function readCsv<T>(
  body: ReadableStream<Uint8Array>,
  parse: (row: Record<string, unknown>, line: number) => T,
  onProgress: (rows: number) => void,
) {
  const rows: T[] = [];
  const errors: RowErrorT[] = [];
  let index = 0;
  await new Promise<void>((resolve, reject) => {
    const parser = Papa.parse(Papa.NODE_STREAM_INPUT, { header: true, skipEmptyLines: 'greedy', transformHeader: (h) => h.trim().toLowerCase() });
    parser.on('data', (row: Record<string, unknown>) => {
      // Line numbers count the header as line 1.
      try {
        rows.push(parse(row, index + 2));
      } catch (err) {
        if (!(err instanceof InputError)) throw err;
        errors.push({ index, code: err.code, message: err.message, path: err.path });
      }
      if (++index % 20_000 === 0) onProgress(index);
    });
    parser.on('end', resolve);
    parser.on('error', reject);
    // decoded as a stream: a character whose bytes two chunks share stays whole (decoded chunk by chunk, one in
    // about 4,000 Chinese addresses became U+FFFD, and was stored so until the address check refused it)
    Readable.fromWeb(body.pipeThrough(new TextDecoderStream('utf-8') as unknown as ReadableWritablePair<string, Uint8Array>) as never)
      .on('error', reject)
      .pipe(parser);
  });
  return { rows, errors, total: index };
}

/** Features of a GeoJSON FeatureCollection, each parsed or reported with its index. */
export function readGeoJson<T>(text: string, parse: (feature: unknown, index: number) => T, what: string) {
  const doc = parseJsonBytes(new TextEncoder().encode(text), MAX_JSON_DEPTH);
  const fc = doc as { type?: unknown; features?: unknown };
  if (typeof doc !== 'object' || doc === null || fc.type !== 'FeatureCollection' || !Array.isArray(fc.features)) {
    throw new InputError('not_a_feature_collection', `expected a GeoJSON FeatureCollection of ${what}`, 'body.type');
  }
  const rows: T[] = [];
  const errors: RowErrorT[] = [];
  fc.features.forEach((f, index) => {
    try {
      rows.push(parse(f, index));
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      errors.push({ index, code: err.code, message: err.message, path: err.path });
    }
  });
  return { rows, errors, total: fc.features.length };
}

/**
 * The rows of an uploaded file (CSV streamed, or a GeoJSON FeatureCollection of Points), each
 * parsed by the route's own row parser: refused as a whole when empty, or when any row is bad and
 * the caller did not ask for `partial`.
 */
export async function readUpload<T>(
  c: Context,
  parse: { csv: (row: Record<string, unknown>, line: number) => T; feature: (feature: unknown, index: number) => T; what: string },
  partial: boolean,
  onProgress: (rows: number) => void,
): Promise<{ rows: T[]; errors: RowErrorT[]; total: number; type: ReturnType<typeof uploadType> }> {
  const type = uploadType(c.req.header('content-type'));
  const body = c.req.raw.body;
  if (!body) throw new InputError('empty_body', 'request body is empty', 'body');
  const parsed = type === 'text/csv' ? await readCsv(body, parse.csv, onProgress) : readGeoJson(await c.req.text(), parse.feature, 'Points');
  if (parsed.total === 0) throw new InputError('empty_collection', `no ${parse.what} in the request`, 'body');
  if (parsed.errors.length > 0 && !partial) {
    throw new InputError(
      'invalid_rows',
      `${parsed.errors.length} of ${parsed.total} rows are invalid; nothing was imported (add ?partial=true to import the rest)`,
      parsed.errors[0]!.path,
      parsed.errors.slice(0, 1000),
    );
  }
  return { ...parsed, type };
}
