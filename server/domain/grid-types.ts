/** Grid types of the seed deployments, each with its own household range (rules live in `grid_type_rule`). */
export const GRID_TYPES = ['scattered', 'residential', 'unit', 'commercial', 'rural'] as const;
export type GridType = (typeof GRID_TYPES)[number];

export const GRID_TYPE_NAMES: Record<GridType, { zh: string; en: string }> = {
  scattered: { zh: '散居型', en: 'Scattered' },
  residential: { zh: '小区型', en: 'Residential complex' },
  unit: { zh: '单位型', en: 'Work unit' },
  commercial: { zh: '商圈型', en: 'Commercial' },
  rural: { zh: '农村型', en: 'Rural' },
};

export interface GridTypeRule {
  gridType: GridType;
  min: number;
  max: number;
  target: number;
}

export type RangeStatus = 'under' | 'within' | 'over';

export function rangeStatus(households: number, rule: Pick<GridTypeRule, 'min' | 'max'>): RangeStatus {
  if (households < rule.min) return 'under';
  if (households > rule.max) return 'over';
  return 'within';
}
