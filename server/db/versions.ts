import { InputError } from '../domain/errors.ts';
import type { Queryable } from './db.ts';

/**
 * Versions of settings kept as a whole (the staffing model, the approval steps, a district's rules,
 * a region's escalation contacts): the change log's newest entry for them, 0 when never changed. A
 * client sends the version it read back with its change (in the body, or as `If-Match` where the
 * answer is a list); a change made meanwhile — by another admin, or an undo — is a 409 and writes
 * nothing.
 */
export async function changeVersion(db: Queryable, entity: string, entityId: number | null = null): Promise<number> {
  const { rows } = await db.query<{ v: number }>(
    `SELECT coalesce(max(id), 0)::int AS v FROM change WHERE entity = $1 AND ${entityId === null ? 'entity_id IS NULL' : 'entity_id = $2'}`,
    entityId === null ? [entity] : [entity, entityId],
  );
  return rows[0]!.v;
}

/**
 * Takes the write lock of one such setting for the rest of the transaction (a concurrent change
 * waits, then finds the version moved), then checks the version the client read, when it sent one.
 */
export async function lockVersion(
  tx: Queryable,
  entity: string,
  entityId: number | null,
  wanted: number | undefined,
  what: string,
  path = 'version',
): Promise<number> {
  await tx.query('SELECT pg_advisory_xact_lock(hashtext($1), $2)', [entity, entityId ?? 0]);
  const current = await changeVersion(tx, entity, entityId);
  if (wanted !== undefined && wanted !== current) {
    throw new InputError('version_conflict', `${what} was changed meanwhile (version ${current}, not ${wanted}): reload and retry`, path, {
      currentVersion: current,
    });
  }
  return current;
}
