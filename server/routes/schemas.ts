import { z } from '@hono/zod-openapi';

export const ErrorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'ring_not_closed' }),
      message: z.string(),
      path: z.string().openapi({ example: 'features.features[3].geometry.coordinates[0]' }),
      details: z.unknown().optional(),
    }),
  })
  .openapi('Error');

type ErrorStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429;
export const errorResponses = (...statuses: ErrorStatus[]) =>
  Object.fromEntries(statuses.map((s) => [s, { description: 'Error', content: { 'application/json': { schema: ErrorSchema } } }])) as Record<
    ErrorStatus,
    { description: string; content: { 'application/json': { schema: typeof ErrorSchema } } }
  >;

/**
 * An id in a path or a query: decimal digits only, within the database's integers (a larger one was a 500). (A coercion
 * would also take `0x1f`, `+31` or ` 31` for 31, which the middleware that reads the path before the route — scope, the
 * read cache — would not.)
 */
export const WholeId = z
  .string()
  .regex(/^\d{1,10}$/, 'must be an id (a whole number)')
  .transform(Number)
  .pipe(z.number().int().positive().max(2_147_483_647));

export const IdParam = z.object({
  id: WholeId.openapi({ param: { name: 'id', in: 'path' }, example: '1' }),
});

// The region schemas live with the others in server/schemas; routes take them from here too.
export { GridTypeSchema, LevelSchema, RegionCollectionSchema, RegionFeatureSchema, RegionPropertiesSchema } from '../schemas/region.ts';

/** A response or request body of JSON with this schema. */
export const json = <T>(schema: T) => ({ content: { 'application/json': { schema } } });

/**
 * Settings answered as a whole list (the staffing model, the approval steps) carry their version as
 * the answer's `ETag` ("42"); a change sends it back as `If-Match`, and one made meanwhile is a 409.
 */
export const IfMatchHeader = z.object({
  'if-match': z
    .string()
    .max(40)
    .regex(/^\s*(\*|(W\/)?"\d{1,12}")\s*$/, 'the ETag a GET answered with, e.g. "42" (or * to replace whatever is there)')
    .openapi({
      param: { name: 'if-match', in: 'header' },
      description: 'the ETag the list was read with (required; * replaces whatever is there); a change made since is refused (409)',
    }),
});

/** The version an If-Match names (none for `*` or no header). */
export const ifMatchVersion = (h: { 'if-match'?: string | undefined }): number | undefined => {
  const m = /"(\d+)"/.exec(h['if-match'] ?? '');
  return m ? Number(m[1]) : undefined;
};
export const etagOf = (version: number) => `"${version}"`;
