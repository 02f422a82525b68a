import { createUser, findUser, generatePassword } from '../db/accounts.ts';
import type { Db } from '../db/db.ts';
import type { Role } from '../domain/roles.ts';

export interface AccountsCreated {
  /** Set when the admin account was created now. */
  admin?: { username: string; password: string; generated: boolean };
  /** Demo accounts created now, one per role, sharing one password. */
  demo?: { usernames: string[]; password: string; generated: boolean };
}

/**
 * First start: an `admin` account (password from GRIDPLAN_ADMIN_PASSWORD, else generated and
 * returned so it can be printed once) and, with the demo district, one account per role.
 */
export async function ensureAccounts(
  db: Db,
  options: { demo: boolean; adminPassword?: string | undefined; demoPassword?: string | undefined },
): Promise<AccountsCreated> {
  const out: AccountsCreated = {};
  const { rows } = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM app_user');
  if (rows[0]!.n > 0) return out;
  await db.transaction(async (tx) => {
    const adminPassword = options.adminPassword || generatePassword();
    await createUser(tx, { username: 'admin', password: adminPassword, role: 'admin', displayName: '系统管理员' });
    out.admin = { username: 'admin', password: adminPassword, generated: !options.adminPassword };
    if (!options.demo) return;
    const password = options.demoPassword || generatePassword();
    // The demo district, its first township, and a staffed grid of it.
    const {
      rows: [place],
    } = await tx.query<{ district: number; township: number | null; worker: number | null }>(
      `SELECT d.id AS district,
              (SELECT t.id FROM region t WHERE t.parent_id = d.id ORDER BY t.code LIMIT 1) AS township,
              (SELECT g.worker_id FROM region g WHERE g.level = 'grid' AND g.worker_id IS NOT NULL ORDER BY g.code LIMIT 1) AS worker
         FROM region d WHERE d.level = 'district' ORDER BY d.id LIMIT 1`,
    );
    // one account per department, named by its code (police, fire, housing, …)
    const departments = (await tx.query<{ id: number; code: string; zh: string }>('SELECT id, code, zh FROM department ORDER BY sort, id')).rows;
    const accounts: { username: string; role: Role; displayName: string; regionId?: number | null; workerId?: number | null; departmentId?: number | null }[] =
      [
        { username: 'planner', role: 'planner', displayName: '区规划员' },
        { username: 'planner-town', role: 'planner', displayName: '乡镇规划员', regionId: place?.township ?? null },
        { username: 'analyst', role: 'analyst', displayName: '数据分析员' },
        { username: 'leader', role: 'leader', displayName: '区领导' },
        ...(place?.worker ? [{ username: 'worker', role: 'worker' as const, displayName: '专职网格员', workerId: place.worker }] : []),
        { username: 'center', role: 'center', displayName: '区综治中心', regionId: place?.district ?? null },
        ...departments.map((d) => ({ username: d.code, role: 'department' as const, displayName: d.zh, departmentId: d.id })),
      ];
    for (const a of accounts) {
      if (!(await findUser(tx, a.username))) await createUser(tx, { ...a, password });
    }
    out.demo = { usernames: accounts.map((a) => a.username), password, generated: !options.demoPassword };
  });
  return out;
}

/** The lines printed once at first start. */
export function describeAccounts(created: AccountsCreated): string[] {
  const lines: string[] = [];
  if (created.admin) {
    lines.push(
      created.admin.generated
        ? `  · account admin, password ${created.admin.password}  (printed only now; set GRIDPLAN_ADMIN_PASSWORD to choose it)`
        : '  · account admin, password from GRIDPLAN_ADMIN_PASSWORD',
    );
  }
  if (created.demo) {
    lines.push(
      `  · demo accounts ${created.demo.usernames.join(', ')}, password ${
        created.demo.generated ? `${created.demo.password}  (printed only now; ` + `GRIDPLAN_DEMO_PASSWORD chooses it)` : 'from GRIDPLAN_DEMO_PASSWORD'
      }`,
    );
  }
  return lines;
}
