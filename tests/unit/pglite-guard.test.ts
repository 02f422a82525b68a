import { describe, expect, it } from 'vitest';
import { expectsRows } from '../../server/db/pglite-driver.ts';

describe('PGlite silent-failure guard', () => {
  it('expects a row description from SELECT, WITH … SELECT and RETURNING', () => {
    expect(expectsRows('SELECT 1')).toBe(true);
    expect(expectsRows('  -- why\n  select 1')).toBe(true);
    expect(expectsRows('WITH a AS (SELECT 1) SELECT * FROM a')).toBe(true);
    expect(expectsRows('WITH ins AS (INSERT INTO t VALUES (1) RETURNING id) SELECT count(*) FROM ins')).toBe(true);
    expect(expectsRows('INSERT INTO t VALUES (1) RETURNING id')).toBe(true);
  });

  it('expects none from plain writes', () => {
    expect(expectsRows('UPDATE t SET a = 1')).toBe(false);
    expect(expectsRows('INSERT INTO t VALUES (1)')).toBe(false);
    expect(expectsRows('WITH w AS (INSERT INTO t VALUES (1) RETURNING id) UPDATE r SET x = 1 FROM w')).toBe(false);
    expect(expectsRows('CREATE TABLE t (a int)')).toBe(false);
  });
});
