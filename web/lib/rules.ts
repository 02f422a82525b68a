import { api, ok } from './api.ts';

/** A grid type's household range as its district sets it (else the default). */
export type Rule = { gridType: string; min: number; max: number; target: number; own: boolean };

const byRegion = new Map<number, Promise<Rule[]>>();

/**
 * The household ranges that hold in a region: its district's own rule, else the defaults — the
 * same ones the coverage check, the overview and the wall figures use on the server. Asked once
 * per region per page; a rules change in the settings is another page.
 */
export function rulesFor(regionId: number): Promise<Rule[]> {
  let hit = byRegion.get(regionId);
  if (!hit) {
    hit = ok(api.regions[':id'].rules.$get({ param: { id: String(regionId) } })).then((r) => r.rules);
    hit.catch(() => byRegion.delete(regionId));
    byRegion.set(regionId, hit);
  }
  return hit;
}
