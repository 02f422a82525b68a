import { createHash, randomBytes } from 'node:crypto';
import { hash, verify } from '@node-rs/argon2';
import { InputError, notFound } from '../domain/errors.ts';
import { ROLES, type Principal, type Role } from '../domain/roles.ts';
import type { Queryable } from './db.ts';

export interface UserJson {
  id: number;
  username: string;
  displayName: string;
  role: Role;
  regionId: number | null;
  workerId: number | null;
  departmentId: number | null;
  disabled: boolean;
  createdAt: string;
}

export interface UserInput {
  username: string;
  password: string;
  role: Role;
  displayName?: string | undefined;
  regionId?: number | null | undefined;
  workerId?: number | null | undefined;
  departmentId?: number | null | undefined;
}

export const SESSION_COOKIE = 'gridplan_session';
const HOUR = 3_600_000;
/** A signed-in person's session lasts this long after its last use. */
export const SESSION_TTL_MS = 12 * HOUR;
/** Wall displays run for weeks. */
export const SCREEN_SESSION_TTL_MS = 30 * 24 * HOUR;

/** Random, URL-safe, 256 bits. */
export const newToken = () => randomBytes(32).toString('base64url');
export const digest = (token: string) => createHash('sha256').update(token).digest('hex');
/** A password nobody types: 18 random characters from an unambiguous alphabet. */
export function generatePassword(): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  return [...randomBytes(18)].map((b) => alphabet[b % alphabet.length]).join('');
}

export const hashPassword = (password: string) => hash(password);
// Verified against when the username is unknown, so both failures take the same time.
const DUMMY_HASH = hash('gridplan-dummy-password');

const userColumns = `id, username, display_name, role, region_id, worker_id, department_id, disabled, created_at`;
const toUser = (r: any): UserJson => ({
  id: r.id,
  username: r.username,
  displayName: r.display_name,
  role: r.role,
  regionId: r.region_id,
  workerId: r.worker_id,
  departmentId: r.department_id,
  disabled: r.disabled,
  createdAt: new Date(r.created_at).toISOString(),
});

function checkPassword(password: string, path = 'password'): void {
  if (password.length < 8) throw new InputError('weak_password', 'a password needs at least 8 characters', path);
}

async function checkRefs(
  tx: Queryable,
  role: Role,
  regionId: number | null | undefined,
  workerId: number | null | undefined,
  departmentId: number | null | undefined,
): Promise<void> {
  if (departmentId != null && !(await tx.query('SELECT 1 FROM department WHERE id = $1', [departmentId])).rows[0])
    throw notFound('department', departmentId, 'departmentId');
  if (role === 'department' && departmentId == null)
    throw new InputError('department_required', 'a department account names its department (departmentId)', 'departmentId');
  // An admin manages accounts and settings of the whole plan: an area stored beside it would look like a limit and be none.
  if (role === 'admin' && regionId != null)
    throw new InputError('admin_everywhere', 'an admin manages the whole plan and is not limited to a region: make a planner of that area instead', 'regionId');
  if (regionId != null && !(await tx.query('SELECT 1 FROM region WHERE id = $1', [regionId])).rows[0]) throw notFound('region', regionId, 'regionId');
  if (workerId != null && !(await tx.query('SELECT 1 FROM worker WHERE id = $1', [workerId])).rows[0]) throw notFound('worker', workerId, 'workerId');
  if (role === 'worker' && workerId == null) throw new InputError('worker_required', 'a grid worker account names its worker (workerId)', 'workerId');
}

export async function createUser(tx: Queryable, input: UserInput): Promise<UserJson> {
  checkPassword(input.password);
  await checkRefs(tx, input.role, input.regionId, input.workerId, input.departmentId);
  if ((await tx.query('SELECT 1 FROM app_user WHERE lower(username) = lower($1)', [input.username])).rows[0]) {
    throw new InputError('username_taken', `the username ${JSON.stringify(input.username)} is taken`, 'username');
  }
  const { rows } = await tx.query(
    `INSERT INTO app_user (username, display_name, password_hash, role, region_id, worker_id, department_id) VALUES ($1, $2, $3, $4, $5, $6, $7) ` +
      `RETURNING ${userColumns}`,
    [
      input.username,
      input.displayName ?? '',
      await hashPassword(input.password),
      input.role,
      input.regionId ?? null,
      input.workerId ?? null,
      input.departmentId ?? null,
    ],
  );
  return toUser(rows[0]);
}

export interface UserPatch {
  password?: string | undefined;
  role?: Role | undefined;
  displayName?: string | undefined;
  regionId?: number | null | undefined;
  workerId?: number | null | undefined;
  departmentId?: number | null | undefined;
  disabled?: boolean | undefined;
}

/** Changes an account; a new password, role, scope or disabling ends its sessions. */
export async function updateUser(tx: Queryable, id: number, patch: UserPatch): Promise<{ before: UserJson; after: UserJson }> {
  const { rows } = await tx.query(`SELECT ${userColumns} FROM app_user WHERE id = $1 FOR UPDATE`, [id]);
  if (!rows[0]) throw notFound('user', id);
  const before = toUser(rows[0]);
  const role = patch.role ?? before.role;
  // (made an admin: the area it had goes with its old role)
  const regionId = patch.regionId === undefined ? (role === 'admin' ? null : before.regionId) : patch.regionId;
  const workerId = patch.workerId === undefined ? before.workerId : patch.workerId;
  const departmentId = patch.departmentId === undefined ? before.departmentId : patch.departmentId;
  await checkRefs(tx, role, regionId, workerId, departmentId);
  if (patch.password !== undefined) checkPassword(patch.password);
  // Someone must always be able to manage accounts: the last enabled admin stays one.
  const stillAdmin = role === 'admin' && !(patch.disabled ?? before.disabled);
  if (before.role === 'admin' && !before.disabled && !stillAdmin) {
    const others = await tx.query('SELECT id FROM app_user WHERE role = $1 AND NOT disabled AND id <> $2 FOR UPDATE', ['admin', id]);
    if (others.rows.length === 0) {
      throw new InputError(
        'last_admin',
        `${before.username} is the last enabled admin: make another account admin first`,
        patch.disabled ? 'disabled' : 'role',
      );
    }
  }
  const passwordHash = patch.password === undefined ? null : await hashPassword(patch.password);
  const updated = await tx.query(
    `UPDATE app_user SET role = $2, region_id = $3, worker_id = $4, display_name = coalesce($5, display_name),
       disabled = coalesce($6, disabled), password_hash = coalesce($7, password_hash), department_id = $8 WHERE id = $1 RETURNING ${userColumns}`,
    [id, role, regionId, workerId, patch.displayName ?? null, patch.disabled ?? null, passwordHash, departmentId],
  );
  const after = toUser(updated.rows[0]);
  const access =
    passwordHash !== null ||
    after.role !== before.role ||
    after.regionId !== before.regionId ||
    after.workerId !== before.workerId ||
    after.departmentId !== before.departmentId ||
    (after.disabled && !before.disabled);
  if (access) await tx.query('DELETE FROM session WHERE user_id = $1', [id]);
  return { before, after };
}

export async function listUsers(db: Queryable): Promise<UserJson[]> {
  const { rows } = await db.query(`SELECT ${userColumns} FROM app_user ORDER BY id`);
  return rows.map(toUser);
}

export async function findUser(db: Queryable, username: string): Promise<UserJson | null> {
  const { rows } = await db.query(`SELECT ${userColumns} FROM app_user WHERE lower(username) = lower($1)`, [username]);
  return rows[0] ? toUser(rows[0]) : null;
}

/**
 * The account whose password matches, or null (unknown user, wrong password); 'disabled' for a
 * disabled account whose password is right (its owner is told to ask an admin, not to retype it).
 */
export async function checkLogin(db: Queryable, username: string, password: string): Promise<UserJson | 'disabled' | null> {
  const { rows } = await db.query<{ password_hash: string } & Record<string, unknown>>(
    `SELECT ${userColumns}, password_hash FROM app_user WHERE lower(username) = lower($1)`,
    [username],
  );
  const row = rows[0];
  const good = await verify(row?.password_hash ?? (await DUMMY_HASH), password).catch(() => false);
  if (!row || !good) return null;
  return row.disabled ? 'disabled' : toUser(row);
}

/** Opens a session for a user or a screen token; returns the cookie's token (only its digest is stored). */
export async function openSession(
  tx: Queryable,
  who: { userId: number } | { screenTokenId: number },
  now = new Date(),
): Promise<{ token: string; expiresAt: Date }> {
  const token = newToken();
  const screen = 'screenTokenId' in who;
  const expiresAt = new Date(now.getTime() + (screen ? SCREEN_SESSION_TTL_MS : SESSION_TTL_MS));
  await tx.query('DELETE FROM session WHERE expires_at < $1', [now]);
  await tx.query('INSERT INTO session (token_hash, user_id, screen_token_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)', [
    digest(token),
    screen ? null : who.userId,
    screen ? who.screenTokenId : null,
    now,
    expiresAt,
  ]);
  return { token, expiresAt };
}

export async function closeSession(tx: Queryable, token: string): Promise<void> {
  await tx.query('DELETE FROM session WHERE token_hash = $1', [digest(token)]);
}

/**
 * The principal behind a session cookie, or null when it is unknown, expired, disabled or
 * revoked. A session in use is extended (at most once an hour, to spare writes).
 */
export async function sessionPrincipal(db: Queryable, token: string, now = new Date()): Promise<Principal | null> {
  const { rows } = await db.query(
    `SELECT s.token_hash, s.expires_at, s.screen_token_id, u.id, u.username, u.display_name, u.role, u.region_id, u.worker_id, u.department_id, u.disabled,
            t.label, t.region_id AS token_region_id, t.revoked_at,
            CASE WHEN u.worker_id IS NULL THEN '{}'::int[]
                 ELSE ARRAY(SELECT g.id FROM region g WHERE g.worker_id = u.worker_id AND g.level = 'grid'
                            UNION SELECT s.grid_id FROM grid_staff s WHERE s.worker_id = u.worker_id ORDER BY 1) END AS grid_ids
       FROM session s LEFT JOIN app_user u ON u.id = s.user_id LEFT JOIN screen_token t ON t.id = s.screen_token_id
      WHERE s.token_hash = $1 AND s.expires_at > $2`,
    [digest(token), now],
  );
  const r = rows[0];
  if (!r) return null;
  const screen = r.screen_token_id !== null;
  if (screen ? r.revoked_at !== null : r.disabled) return null;
  const ttl = screen ? SCREEN_SESSION_TTL_MS : SESSION_TTL_MS;
  if (new Date(r.expires_at).getTime() - now.getTime() < ttl - HOUR) {
    await db.query('UPDATE session SET expires_at = $2 WHERE token_hash = $1', [r.token_hash, new Date(now.getTime() + ttl)]);
  }
  if (screen) {
    return {
      kind: 'screen',
      id: r.screen_token_id,
      username: `screen:${r.label || r.screen_token_id}`,
      displayName: r.label,
      role: 'screen',
      regionId: r.token_region_id,
      workerId: null,
      departmentId: null,
      gridIds: [],
    };
  }
  return {
    kind: 'user',
    id: r.id,
    username: r.username,
    displayName: r.display_name,
    role: r.role,
    regionId: r.region_id,
    workerId: r.worker_id,
    departmentId: r.department_id,
    gridIds: r.grid_ids,
  };
}

export interface ScreenTokenJson {
  id: number;
  label: string;
  regionId: number | null;
  createdAt: string;
  revoked: boolean;
}
const toScreenToken = (r: any): ScreenTokenJson => ({
  id: r.id,
  label: r.label,
  regionId: r.region_id,
  createdAt: new Date(r.created_at).toISOString(),
  revoked: r.revoked_at !== null,
});

/** A new read-only token for a wall display; the token itself is returned once and never stored. */
export async function createScreenToken(tx: Queryable, label: string, regionId: number | null): Promise<ScreenTokenJson & { token: string }> {
  if (regionId !== null && !(await tx.query('SELECT 1 FROM region WHERE id = $1', [regionId])).rows[0]) throw notFound('region', regionId, 'regionId');
  const token = newToken();
  const { rows } = await tx.query('INSERT INTO screen_token (token_hash, label, region_id) VALUES ($1, $2, $3) RETURNING *', [digest(token), label, regionId]);
  return { ...toScreenToken(rows[0]), token };
}

export async function listScreenTokens(db: Queryable): Promise<ScreenTokenJson[]> {
  return (await db.query('SELECT * FROM screen_token ORDER BY id')).rows.map(toScreenToken);
}

export async function revokeScreenToken(tx: Queryable, id: number): Promise<ScreenTokenJson> {
  const { rows } = await tx.query('UPDATE screen_token SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING *', [id]);
  if (!rows[0]) throw notFound('screen token', id);
  await tx.query('DELETE FROM session WHERE screen_token_id = $1', [id]);
  return toScreenToken(rows[0]);
}

export async function screenTokenId(db: Queryable, token: string): Promise<number | null> {
  const { rows } = await db.query<{ id: number }>('SELECT id FROM screen_token WHERE token_hash = $1 AND revoked_at IS NULL', [digest(token)]);
  return rows[0]?.id ?? null;
}

/** Is `regionId` the scope region or below it (`strict`: strictly below)? */
export async function isWithin(db: Queryable, regionId: number, scopeId: number, strict: boolean): Promise<boolean> {
  const { rows } = await db.query<{ ok: boolean }>('SELECT EXISTS (SELECT 1 FROM gp_ancestors(ARRAY[$1::int]) WHERE id = $2 AND depth >= $3) AS ok', [
    regionId,
    scopeId,
    strict ? 1 : 0,
  ]);
  return rows[0]!.ok;
}

export const isRole = (s: string): s is Role => (ROLES as readonly string[]).includes(s);

/** A new key for a system that feeds incidents in (the hotline); returned once, stored as a digest. */
export async function createApiKey(
  tx: Queryable,
  label: string,
  scope: 'hotline',
  regionId: number | null = null,
): Promise<{ id: number; label: string; key: string }> {
  const key = `gpk_${newToken()}`;
  const { rows } = await tx.query<{ id: number }>('INSERT INTO api_key (key_hash, label, scope, region_id) VALUES ($1, $2, $3, $4) RETURNING id', [
    digest(key),
    label,
    scope,
    regionId,
  ]);
  return { id: rows[0]!.id, label, key };
}

export interface ApiKeyJson {
  id: number;
  label: string;
  scope: 'hotline';
  createdAt: string;
  revoked: boolean;
  /** The region its orders are placed in (null: the whole plan), and its name (null: the region is gone, and it places nothing). */
  regionId: number | null;
  regionName: string | null;
}
const toApiKey = (r: any): ApiKeyJson => ({
  id: r.id,
  label: r.label,
  scope: r.scope,
  createdAt: new Date(r.created_at).toISOString(),
  revoked: r.revoked_at !== null,
  regionId: r.region_id ?? null,
  regionName: r.region_name ?? null,
});
const KEY_SQL = 'SELECT k.*, r.name AS region_name FROM api_key k LEFT JOIN region r ON r.id = k.region_id';

export async function listApiKeys(db: Queryable): Promise<ApiKeyJson[]> {
  return (await db.query(`${KEY_SQL} ORDER BY k.id`)).rows.map(toApiKey);
}

/** A new key, returned once with its record. */
export async function createApiKeyRecord(tx: Queryable, label: string, regionId: number | null = null): Promise<ApiKeyJson & { key: string }> {
  const { id, key } = await createApiKey(tx, label, 'hotline', regionId);
  const { rows } = await tx.query(`${KEY_SQL} WHERE k.id = $1`, [id]);
  return { ...toApiKey(rows[0]), key };
}

/** Revokes a key: the system using it is refused (401) from its next request. */
export async function revokeApiKey(tx: Queryable, id: number): Promise<ApiKeyJson> {
  const { rows } = await tx.query('UPDATE api_key SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 RETURNING id', [id]);
  if (!rows[0]) throw notFound('hotline key', id);
  return toApiKey((await tx.query(`${KEY_SQL} WHERE k.id = $1`, [id])).rows[0]);
}

/** The label of a valid, unrevoked key of this scope and the region it places orders in (null: the whole plan), or null. */
export async function apiKeyClient(db: Queryable, key: string, scope: 'hotline'): Promise<{ label: string; regionId: number | null } | null> {
  const { rows } = await db.query<{ id: number; label: string; region_id: number | null }>(
    'SELECT id, label, region_id FROM api_key WHERE key_hash = $1 AND scope = $2 AND revoked_at IS NULL',
    [digest(key), scope],
  );
  return rows[0] ? { label: `${scope}:${rows[0].label || rows[0].id}`, regionId: rows[0].region_id } : null;
}

/** Of these session digests, the ones still valid: present, unexpired, of an enabled account or an unrevoked screen token. */
export async function liveSessions(db: Queryable, digests: string[], now = new Date()): Promise<string[]> {
  const { rows } = await db.query<{ token_hash: string }>(
    `SELECT s.token_hash FROM session s LEFT JOIN app_user u ON u.id = s.user_id LEFT JOIN screen_token t ON t.id = s.screen_token_id
     WHERE s.token_hash = ANY($1::text[]) AND s.expires_at > $2 AND (u.id IS NULL OR NOT u.disabled) AND (t.id IS NULL OR t.revoked_at IS NULL)`,
    [digests, now],
  );
  return rows.map((r) => r.token_hash);
}
