/**
 * Who may do what. A capability names a kind of action; each role holds a set of them.
 * Region scope (which township a planner may change, which grid a worker reports in) is
 * checked by the handler that knows the region; this table only answers "may this role
 * ever do this?".
 */
export const ROLES = ['admin', 'planner', 'analyst', 'leader', 'worker', 'department', 'center'] as const;
export type Role = (typeof ROLES)[number];
/** A wall display signed in with a read-only screen token. */
export type PrincipalRole = Role | 'screen';

export const CAPABILITIES = [
  'plan:read', // regions, grids, coverage, grid types
  'plan:write', // create, edit, split, merge, delete, import regions; auto-split; undo/redo
  'plan:review', // review, approve or reject drafts (which step: the approval steps say)
  'households:read', // household locations
  'households:write', // household import
  'households:people', // who heads each household and their phone (personal data): exports and lists with them
  'changes:read', // the change log
  'incidents:read', // incident lists, heatmaps, statistics, hotspots, the live feed
  'incidents:own', // a grid worker's own grid's incidents
  'incidents:report', // report one incident
  'patrol:record', // record a patrol of one's own grid (巡查) and the households visited
  'incidents:update', // move an incident along its loop
  'incidents:import', // bulk import
  'incidents:dispatch', // send an incident to departments (a worker: in their grid)
  'dispatch:read', // every department's dispatches and response times
  'dispatch:answer', // acknowledge and resolve a dispatch (a department user: their department's)
  'dispatch:manage', // the centre: decide a department's request for more time
  'users:admin', // accounts and screen tokens
] as const;
export type Capability = (typeof CAPABILITIES)[number];

const ROLE_CAPABILITIES: Record<PrincipalRole, readonly Capability[]> = {
  admin: CAPABILITIES,
  planner: ['plan:read', 'plan:write', 'plan:review', 'households:read', 'households:write', 'households:people', 'changes:read'],
  analyst: ['plan:read', 'incidents:read', 'dispatch:read'],
  leader: ['plan:read', 'plan:review', 'households:read', 'changes:read', 'incidents:read', 'dispatch:read'],
  worker: ['plan:read', 'incidents:own', 'incidents:report', 'incidents:update', 'incidents:dispatch', 'patrol:record'],
  department: ['plan:read', 'dispatch:answer'],
  // 综治中心: receives everything in its area, routes it, watches deadlines, decides on more time
  center: ['plan:read', 'incidents:read', 'incidents:update', 'incidents:dispatch', 'dispatch:read', 'dispatch:manage'],
  screen: ['plan:read', 'incidents:read', 'dispatch:read'],
};

export function can(role: PrincipalRole, capability: Capability): boolean {
  return ROLE_CAPABILITIES[role].includes(capability);
}

/** Any of the capabilities: e.g. the incident list serves analysts (`incidents:read`) and workers (`incidents:own`). */
export function canAny(role: PrincipalRole, capabilities: readonly Capability[]): boolean {
  return capabilities.some((c) => can(role, c));
}

/** The signed-in caller, as every handler sees it. */
export interface Principal {
  kind: 'user' | 'screen';
  id: number;
  /** The change log's actor: the username, or `screen:<label>`. */
  username: string;
  displayName: string;
  role: PrincipalRole;
  /** Planner: the region they may change below; anyone else but an admin: the area they read and act in; null: everywhere. */
  regionId: number | null;
  workerId: number | null;
  /** Department user: their department. */
  departmentId: number | null;
  /** Grid worker: the grids they staff. */
  gridIds: number[];
}

/** The area a principal is confined to (its region, unless an admin), or null: everywhere. */
export const areaOf = (p: Principal): number | null => (p.role === 'admin' ? null : p.regionId);
