/**
 * Manages accounts in the configured database (DATABASE_URL, else the embedded one; stop
 * `npm start` first, the embedded database takes one process at a time).
 *   npm run users -- list
 *   npm run users -- add <username> <role> [--region <code>] [--worker <id>] [--name <display name>] [--password <pw>]
 *   npm run users -- passwd <username> [--password <pw>]
 *   npm run users -- disable <username> | enable <username>
 *   npm run users -- add <username> department --department <code>    (e.g. police, fire, housing)
 *   npm run users -- screen-token <label> [--region <code>]
 *   npm run users -- hotline-key <label> [--region <code>]   (the 12345 hotline's x-api-key for POST /api/intake/hotline;
 *                                                             with a region, its orders are placed only there)
 * A password not given is generated and printed once. Roles: admin, planner, analyst, leader, worker, department.
 */
import { parseArgs } from 'node:util';
import { createApiKey, createScreenToken, createUser, findUser, generatePassword, isRole, listUsers, updateUser } from '../server/db/accounts.ts';
import { openDb } from '../server/db/db.ts';
import { departmentIds } from '../server/db/dispatches.ts';
import { migrate } from '../server/db/migrate.ts';
import { recordChange } from '../server/db/regions.ts';
import { loadConfig } from '../server/config.ts';
import { InputError } from '../server/domain/errors.ts';
import { ROLES } from '../server/domain/roles.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { region: { type: 'string' }, worker: { type: 'string' }, department: { type: 'string' }, name: { type: 'string' }, password: { type: 'string' } },
});
const [command, ...args] = positionals;
// (the embedded database open in the server is the usual reason this fails: said in a line, not a stack)
const db = await openDb(loadConfig()).catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exit(1);
});
await migrate(db);
const actor = `cli:${process.env.USER ?? 'shell'}`;

async function regionId(code: string | undefined): Promise<number | null> {
  if (code === undefined) return null;
  const { rows } = await db.query<{ id: number }>('SELECT id FROM region WHERE code = $1', [code]);
  if (!rows[0]) throw new InputError('not_found', `no region with code ${code}`, 'region', 404);
  return rows[0].id;
}
async function user(username: string | undefined) {
  const found = username ? await findUser(db, username) : null;
  if (!found) throw new InputError('not_found', `no account ${JSON.stringify(username ?? '')}`, 'username', 404);
  return found;
}

try {
  if (command === 'list') {
    // regions by the codes `add --region` takes, departments by theirs
    const codes = new Map(
      (await db.query<{ id: number; code: string }>('SELECT id, code FROM region WHERE level <> $1', ['grid'])).rows.map((r) => [r.id, r.code]),
    );
    const departments = new Map((await db.query<{ id: number; code: string }>('SELECT id, code FROM department')).rows.map((d) => [d.id, d.code]));
    console.table(
      (await listUsers(db)).map((u) => ({
        username: u.username,
        role: u.role,
        name: u.displayName,
        region: u.regionId === null ? '' : (codes.get(u.regionId) ?? u.regionId),
        worker: u.workerId ?? '',
        department: u.departmentId === null ? '' : (departments.get(u.departmentId) ?? u.departmentId),
        disabled: u.disabled,
      })),
    );
  } else if (command === 'add') {
    const [username, role] = args;
    if (!username || !role || !isRole(role)) throw new InputError('usage', `add <username> <${ROLES.join('|')}>`, 'role', 400);
    const department = values.department === undefined ? null : (await departmentIds(db, [values.department], 'department'))[0]!;
    const password = values.password ?? generatePassword();
    const region = await regionId(values.region);
    await db.transaction(async (tx) => {
      const created = await createUser(tx, {
        username,
        role,
        password,
        displayName: values.name,
        regionId: region,
        workerId: values.worker ? Number(values.worker) : null,
        departmentId: department,
      });
      await recordChange(tx, { actor, action: 'create', entity: 'user', entityId: created.id, before: null, after: created });
    });
    console.log(`account ${username} (${role}) created${values.password ? '' : `, password ${password}`}`);
  } else if (command === 'passwd' || command === 'disable' || command === 'enable') {
    const target = await user(args[0]);
    const password = command === 'passwd' ? (values.password ?? generatePassword()) : undefined;
    await db.transaction(async (tx) => {
      const change = await updateUser(tx, target.id, command === 'passwd' ? { password } : { disabled: command === 'disable' });
      await recordChange(tx, {
        actor,
        action: 'update',
        entity: 'user',
        entityId: target.id,
        before: change.before,
        after: { ...change.after, passwordChanged: password !== undefined },
      });
    });
    console.log(
      command === 'passwd'
        ? `password of ${target.username} changed${values.password ? '' : ` to ${password}`}; their sessions ended`
        : `${target.username} ${command}d`,
    );
  } else if (command === 'screen-token') {
    const label = args[0];
    if (!label) throw new InputError('usage', 'screen-token <label>', 'label', 400);
    const region = await regionId(values.region);
    const token = await db.transaction(async (tx) => {
      const created = await createScreenToken(tx, label, region);
      await recordChange(tx, { actor, action: 'create', entity: 'screen_token', entityId: created.id, before: null, after: { ...created, token: undefined } });
      return created;
    });
    console.log(`screen token for ${label}: open /screen?token=${token.token}  (shown only now)`);
  } else if (command === 'hotline-key') {
    const label = args[0];
    if (!label) throw new InputError('usage', 'hotline-key <label> [--region <code>]', 'label', 400);
    // (a county's own 12345: its orders placed only in that region)
    const region = await regionId(values.region);
    const key = await db.transaction(async (tx) => {
      const created = await createApiKey(tx, label, 'hotline', region);
      await recordChange(tx, { actor, action: 'create', entity: 'api_key', entityId: created.id, before: null, after: { ...created, key: undefined } });
      return created;
    });
    console.log(
      `hotline API key for ${label}${region === null ? '' : ` (orders placed in ${values.region} only)`}: ${key.key}  (send as x-api-key; shown only now)`,
    );
  } else {
    console.log(
      'usage: npm run users -- list | add <username> <role> | passwd <username> | disable <username> | enable <username> | screen-token <label> | ' +
        'hotline-key <label>',
    );
    process.exitCode = 2;
  }
} catch (e) {
  console.error(e instanceof InputError ? `${e.code}: ${e.message}` : e);
  process.exitCode = 1;
} finally {
  await db.close();
}
