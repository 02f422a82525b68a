import type { InferResponseType } from 'hono/client';
import { api, ok } from '../lib/api.ts';

export type CoverageReport = InferResponseType<(typeof api.regions)[':id']['coverage']['$get'], 200>;
export type Issue = CoverageReport['issues']['features'][number];

/** Kinds in order of seriousness, with their map colours. */
/**
 * The order coverage problems are listed in: the plan's shape first (what no one else can fix), then
 * households, then codes and people (a county's first check has dozens of grids without staff).
 */
export const KIND_ORDER = [
  'invalid_geometry',
  'overlap',
  'gap',
  'outside_parent',
  'multipart_grid',
  'sliver',
  'village_without_grids',
  'orphan_household',
  'households_out_of_range',
  'code_mismatch',
  'grid_without_worker',
  'grid_missing_role',
];

export const ISSUE_COLORS: Record<string, string> = {
  overlap: '#c2255c',
  gap: '#e03131',
  outside_parent: '#9c36b5',
  invalid_geometry: '#000000',
  multipart_grid: '#5f3dc4',
  village_without_grids: '#e8590c',
  orphan_household: '#a61e4d',
  households_out_of_range: '#f08c00',
  grid_without_worker: '#1971c2',
  grid_missing_role: '#0ca678',
  code_mismatch: '#495057',
  sliver: '#868e96',
};

/** The last coverage report of a region, and the problem the planner is looking at. */
export class Coverage {
  report = $state.raw<CoverageReport | null>(null);
  regionId = $state<number | null>(null);
  depth = $state<'1' | 'all'>('1');
  loading = $state(false);
  focused = $state.raw<Issue | null>(null);

  async check(regionId: number, depth: '1' | 'all' = this.depth): Promise<void> {
    this.loading = true;
    try {
      this.report = await ok(api.regions[':id'].coverage.$get({ param: { id: String(regionId) }, query: { depth } }));
      this.regionId = regionId;
      this.depth = depth;
      this.focused = null;
    } finally {
      this.loading = false;
    }
  }

  clear(): void {
    this.report = null;
    this.regionId = null;
    this.focused = null;
  }
}
