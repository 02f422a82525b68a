import type { InferResponseType } from 'hono/client';
import { SvelteMap } from 'svelte/reactivity';
import { api, ok } from '../lib/api.ts';

export type StaffRole = InferResponseType<(typeof api)['staff-roles']['$get'], 200>[number];

/**
 * The staffing model (roles and how many of each a grid needs), loaded once per page; and each district's own counts
 * (1+N+X where the plan has 1+3+M+X), loaded once per district asked for.
 */
class StaffRoles {
  list = $state.raw<StaffRole[]>([]);
  private loading: Promise<void> | null = null;
  /** A district's counts by role code, as `GET /api/regions/:id/staffing` gives them. */
  private districts = new SvelteMap<number, Map<string, number>>();
  private asked = new Set<number>();

  load(): Promise<void> {
    this.loading ??= ok(api['staff-roles'].$get())
      .then((r) => void (this.list = r))
      .catch(() => void (this.loading = null));
    return this.loading;
  }

  /** Asks once for a district's own counts (a region's district: the ancestor of that level, or itself). */
  loadDistrict(districtId: number | null | undefined): void {
    if (!districtId || this.asked.has(districtId)) return;
    this.asked.add(districtId);
    void ok(api.regions[':id'].staffing.$get({ param: { id: String(districtId) } }))
      .then((m) => this.districts.set(districtId, new Map(m.roles.map((r) => [r.code, r.minPerGrid]))))
      .catch(() => this.asked.delete(districtId));
  }

  /** Forgets the districts' counts (after a change in 设置 › 网格力量). */
  forget(): void {
    this.districts.clear();
    this.asked.clear();
    this.loading = null;
  }

  /** How many of a role a grid of the district needs: its own count, else the plan's. */
  need(role: StaffRole, districtId?: number | null): number {
    return (districtId ? this.districts.get(districtId)?.get(role.code) : undefined) ?? role.minPerGrid;
  }

  /** Required roles (besides the full-time worker, shown on its own) missing from a staff list, by the district's counts. */
  missing(staff: { role: string }[], districtId?: number | null): StaffRole[] {
    return this.list.filter((r) => r.code !== 'full_time' && staff.filter((s) => s.role === r.code).length < this.need(r, districtId));
  }
}

export const staffRoles = new StaffRoles();

/** The district of a region, from its ancestors (itself when it is one); null above or outside one. */
export function districtIdOf(region: { id: number | string; properties: { level: string; ancestors?: { id: number; level: string }[] } }): number | null {
  if (region.properties.level === 'district') return Number(region.id);
  return region.properties.ancestors?.find((a) => a.level === 'district')?.id ?? null;
}
