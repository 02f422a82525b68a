import { hashPassword, openSession, SESSION_COOKIE } from '../../server/db/accounts.ts';
import type { Queryable } from '../../server/db/db.ts';
import type { Role } from '../../server/domain/roles.ts';

export const TEST_PASSWORD = 'correct horse battery';
let passwordHash: Promise<string> | undefined;

export interface AccountSpec {
  username: string;
  role: Role;
  regionId?: number | null;
  workerId?: number | null;
  /** A department user's department code. */
  department?: string | null;
}

/** An account (created when missing, with TEST_PASSWORD) and a fresh session cookie for it. */
export async function sessionCookie(db: Queryable, spec: AccountSpec): Promise<string> {
  passwordHash ??= hashPassword(TEST_PASSWORD);
  const { rows } = await db.query<{ id: number }>(
    `INSERT INTO app_user (username, password_hash, role, region_id, worker_id, department_id)
       VALUES ($1, $2, $3, $4, $5, (SELECT id FROM department WHERE code = $6))
     ON CONFLICT (username) DO UPDATE SET role = excluded.role, region_id = excluded.region_id, worker_id = excluded.worker_id,
       department_id = excluded.department_id RETURNING id`,
    [
      spec.username,
      await passwordHash,
      spec.role,
      spec.regionId ?? null,
      spec.workerId ?? null,
      spec.department ?? (spec.role === 'department' ? 'police' : null),
    ],
  );
  const { token } = await openSession(db, { userId: rows[0]!.id });
  return `${SESSION_COOKIE}=${token}`;
}
