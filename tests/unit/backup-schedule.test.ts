import { describe, expect, it } from 'vitest';
import { backupDue } from '../../server/db/backup.ts';

const H = 3_600_000;
// 2026-12-02 in China time (UTC+8)
const at = (hour: number) => new Date(Date.UTC(2026, 11, 1, hour - 8 + 24));

describe('when the daily backup runs', () => {
  it('waits for the night: past half a day old, only between 02:00 and 05:00 China time', () => {
    expect(backupDue(20 * H, at(10))).toBe(false); // a working morning: everyone would wait
    expect(backupDue(20 * H, at(2))).toBe(true);
    expect(backupDue(20 * H, at(4))).toBe(true);
    expect(backupDue(20 * H, at(5))).toBe(false);
    expect(backupDue(6 * H, at(3))).toBe(false); // one taken this evening is enough
  });

  it('never lets the newest grow past 26 hours, on a server that sleeps at night', () => {
    expect(backupDue(26 * H, at(15))).toBe(true);
    expect(backupDue(25 * H, at(15))).toBe(false);
  });
});
