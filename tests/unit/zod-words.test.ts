import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { fromZod } from '../../server/http/errors.ts';
import { WholeId } from '../../server/routes/schemas.ts';

/** A refused field said in our words, as a person reads them (from the attacker's pass: a number sent as text read "is required"). */
const said = (schema: z.ZodType, value: unknown, target = 'json') => {
  const r = schema.safeParse(value);
  if (r.success) throw new Error('accepted');
  return fromZod(r.error, target).message;
};

describe('refusals of a field, in words', () => {
  const body = z.object({
    phone: z.string().max(20),
    size: z.number().int().min(1).max(99),
    version: z
      .number()
      .int()
      .positive()
      .max(2 ** 31 - 1),
  });
  it('tells a missing field from one of the wrong kind', () => {
    expect(said(body, { size: 1, version: 1 })).toBe('json.phone is required');
    expect(said(body, { phone: 13800000000, size: 1, version: 1 })).toBe('json.phone must be text');
    expect(said(body, { phone: '1', size: 2.5, version: 1 })).toBe('json.size must be a whole number');
    expect(said(body, { phone: '1', size: '2', version: 1 })).toBe('json.size must be a number');
  });
  it("gives the field's own bounds, not zod's safe-integer one, and says when the bound itself is refused", () => {
    expect(said(body, { phone: '1', size: 1, version: 2 ** 53 })).toBe('json.version must be at most 2147483647');
    expect(said(body, { phone: '1', size: 1, version: 0 })).toBe('json.version must be more than 0');
    expect(said(body, { phone: '1', size: 100, version: 1 })).toBe('json.size must be at most 99');
  });
  it('reads an id in a path as one', () => {
    expect(said(z.object({ id: WholeId }), { id: 'abc' }, 'param')).toBe('param.id must be an id (a whole number)');
    expect(said(z.object({ id: WholeId }), { id: '0' }, 'param')).toBe('param.id must be more than 0');
  });
});
