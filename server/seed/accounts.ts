import { createUser, findUser, generatePassword } from '../db/accounts.ts';
import type { Db, Queryable } from '../db/db.ts';
import { chinaTimes, notify } from '../db/notifications.ts';
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
    // The plan's top (the demo district, or a seeded city), its first township, and a staffed grid of it.
    const {
      rows: [place],
    } = await tx.query<{ district: number; city: boolean; township: number | null; worker: number | null }>(
      `SELECT d.id AS district, d.level = 'city' AS city,
              (SELECT t.id FROM region t WHERE t.level = 'township' ORDER BY t.code LIMIT 1) AS township,
              (SELECT g.worker_id FROM region g WHERE g.level = 'grid' AND g.worker_id IS NOT NULL ORDER BY g.code LIMIT 1) AS worker
         FROM region d WHERE d.level IN ('city', 'district') ORDER BY d.level = 'city' DESC, d.id LIMIT 1`,
    );
    const where = place?.city ? '市' : '区';
    // one account per department, named by its code (police, fire, housing, …)
    const departments = (await tx.query<{ id: number; code: string; zh: string }>('SELECT id, code, zh FROM department ORDER BY sort, id')).rows;
    const accounts: { username: string; role: Role; displayName: string; regionId?: number | null; workerId?: number | null; departmentId?: number | null }[] =
      [
        { username: 'planner', role: 'planner', displayName: `${where}规划员` },
        { username: 'planner-town', role: 'planner', displayName: '乡镇规划员', regionId: place?.township ?? null },
        // a second district planner: the township step of the planner's drafts is someone else's (four eyes), and
        // the leader who passed it could not also decide the district's — a draft stood waiting for an admin
        { username: 'reviewer', role: 'planner', displayName: `${where}规划审核员` },
        { username: 'analyst', role: 'analyst', displayName: '数据分析员' },
        { username: 'leader', role: 'leader', displayName: `${where}领导` },
        ...(place?.worker ? [{ username: 'worker', role: 'worker' as const, displayName: '专职网格员', workerId: place.worker }] : []),
        { username: 'center', role: 'center', displayName: `${where}综治中心`, regionId: place?.district ?? null },
        ...departments.map((d) => ({ username: d.code, role: 'department' as const, displayName: d.zh, departmentId: d.id })),
      ];
    for (const a of accounts) {
      if (!(await findUser(tx, a.username))) await createUser(tx, { ...a, password });
    }
    out.demo = { usernames: accounts.map((a) => a.username), password, generated: !options.demoPassword };
    await demoInbox(tx);
  });
  return out;
}

/**
 * The demo accounts' first inbox, as if they had been signed up all along: each department hears of
 * its newest open dispatches and the overdue ones; the centre of overdue dispatches and of the
 * newest unsatisfied residents; the district leader of escalations.
 */
async function demoInbox(tx: Queryable): Promise<void> {
  const open = await tx.query<{
    id: number;
    incident_id: number;
    department_id: number;
    at: string;
    ack: string;
    due: string;
    late: boolean;
    zh: string;
    en: string;
  }>(
    `SELECT * FROM (
       SELECT d.id, d.incident_id, d.department_id, d.dispatched_at AS at, d.ack_due_at AS ack, d.due_at AS due, d.due_at < now() AS late, dep.zh, dep.en,
              row_number() OVER (PARTITION BY d.department_id, d.due_at < now() ORDER BY d.dispatched_at DESC) AS k
       FROM dispatch d JOIN department dep ON dep.id = d.department_id WHERE d.resolved_at IS NULL AND d.returned_at IS NULL) x
     WHERE k <= 4 ORDER BY at`,
  );
  for (const d of open.rows) {
    const ack = chinaTimes(d.ack);
    await notify(
      tx,
      {
        event: 'dispatch.received',
        incidentId: d.incident_id,
        dispatchId: d.id,
        to: [{ department: d.department_id }],
        text: (c) => ({
          zh: `新派单 #${c.id} ${c.categoryZh}，${c.place ?? ''}：请于${ack.zh}前受理（报到）`,
          en: `New case #${c.id} ${c.categoryEn}: acknowledge by ${ack.en}`,
        }),
      },
      new Date(d.at),
    );
    if (d.late) {
      await notify(
        tx,
        {
          event: 'dispatch.overdue',
          incidentId: d.incident_id,
          dispatchId: d.id,
          to: [{ department: d.department_id }, { centre: true }],
          // (as the sweep says it: which deadline, and when it was)
          text: (c) => ({
            zh: `超期：${d.zh} #${c.id} ${c.categoryZh}未在${chinaTimes(d.due).zh}前办结`,
            en: `Overdue: ${d.en} did not answer #${c.id} (${c.categoryEn}) by ${chinaTimes(d.due).en}`,
          }),
        },
        new Date(d.due),
      );
    }
  }
  const unhappy = await tx.query<{ id: number; at: string }>(
    `SELECT id, closed_at AS at FROM incident WHERE satisfaction = 'unsatisfied' AND status = 'closed' ORDER BY closed_at DESC LIMIT 5`,
  );
  for (const u of unhappy.rows.reverse()) {
    await notify(
      tx,
      {
        event: 'satisfaction.low',
        incidentId: u.id,
        to: [{ centre: true }],
        text: (c) => ({ zh: `群众不满意：#${c.id} ${c.categoryZh}，可重新办理`, en: `Resident unsatisfied: #${c.id} ${c.categoryEn}; it can be reopened` }),
      },
      new Date(u.at),
    );
  }
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
