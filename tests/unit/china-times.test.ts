import { describe, expect, it } from 'vitest';
import { chinaTimes } from '../../server/db/notifications.ts';

describe('a moment in a message', () => {
  it('is China time, written as the app writes it in each language', () => {
    expect(chinaTimes('2026-12-05T05:59:00Z')).toEqual({ zh: '12/5 13:59', en: '5 Dec 13:59' });
    // (past midnight in China while still the day before in UTC)
    expect(chinaTimes(new Date('2026-12-31T16:05:00Z'))).toEqual({ zh: '1/1 00:05', en: '1 Jan 00:05' });
  });
});
