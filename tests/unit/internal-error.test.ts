import { Hono } from 'hono';
import { afterEach, expect, it, vi } from 'vitest';
import { onError } from '../../server/http/errors.ts';

afterEach(() => vi.restoreAllMocks());

it('answers an unexpected error with a reference the log has too, and nothing of the error itself', async () => {
  const logged: string[] = [];
  vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void logged.push(args.map(String).join(' ')));
  const app = new Hono();
  app.get('/api/boom', () => {
    throw new Error('relation "secret_table" does not exist');
  });
  app.onError(onError);
  const res = await app.request('/api/boom');
  expect(res.status).toBe(500);
  const body = (await res.json()) as { error: { code: string; message: string; details: { reference: string } } };
  expect(body.error.code).toBe('internal');
  expect(body.error.details.reference).toMatch(/^[0-9a-f]{8}$/);
  expect(body.error.message).toContain(body.error.details.reference);
  expect(JSON.stringify(body)).not.toContain('secret_table');
  // the log's line names when, what and who, with the same reference
  expect(logged[0]).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT.* 500 ref=${body.error.details.reference} GET /api/boom user=-$`));
  expect(logged.join('\n')).toContain('secret_table');
});
