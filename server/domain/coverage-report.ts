/** What a coverage check reports: each problem a located GeoJSON feature, and a summary. */

export const ISSUE_KINDS = [
  'gap',
  'overlap',
  'outside_parent',
  'sliver',
  'invalid_geometry',
  'multipart_grid',
  'village_without_grids',
  'households_out_of_range',
  'orphan_household',
  'grid_without_worker',
  'grid_missing_role',
  'code_mismatch',
] as const;
export type IssueKind = (typeof ISSUE_KINDS)[number];

/** How parents are screened before the full check (see `validateCoverage`). */
export type CoveragePath = 'edges' | 'coverage' | 'relate';

export interface IssueFeature {
  type: 'Feature';
  geometry: { type: string; coordinates: unknown } | null;
  properties: {
    kind: IssueKind;
    regionIds: number[];
    parentId: number | null;
    /** The grid the problem is of, by name, where it is one grid's (its household count, its staff, its code…); an overlap's two regions (瓜州县、玉门市). */
    name?: string;
    areaM2?: number;
    count?: number;
    role?: string;
    of?: 'gap' | 'overlap' | 'outside_parent';
    message: { zh: string; en: string };
  };
}

export interface CoverageReport {
  summary: {
    ok: boolean;
    counts: Record<IssueKind, number>;
    parentsChecked: number;
    /** Parents the screen could not pass, so checked in full (union, differences, pairs). */
    parentsSuspect: number;
    /** The area of the region checked, m². */
    areaCheckedM2: number;
    path: CoveragePath;
    elapsedMs: number;
    /** Where the time went: the tiling (validity, gaps, overlaps, spills), the grid rules, the households. */
    stepsMs: { tiling: number; rules: number; households: number };
  };
  issues: { type: 'FeatureCollection'; features: IssueFeature[] };
}

/**
 * The report for someone who may not see where households are: each kind of household problem
 * becomes one feature per region it concerns, with its count and no location.
 */
export function withoutHouseholdLocations(report: CoverageReport): CoverageReport {
  const grouped = new Map<string, IssueFeature>();
  const others: IssueFeature[] = [];
  for (const f of report.issues.features) {
    if (f.properties.kind !== 'orphan_household') {
      others.push(f);
      continue;
    }
    const key = `${f.properties.message.en}|${f.properties.regionIds.join(',')}`;
    const seen = grouped.get(key);
    if (seen) seen.properties.count = (seen.properties.count ?? 1) + 1;
    else grouped.set(key, { type: 'Feature', geometry: null, properties: { ...f.properties, count: 1 } });
  }
  return { ...report, issues: { type: 'FeatureCollection', features: [...others, ...grouped.values()] } };
}
