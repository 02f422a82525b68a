import type { InferResponseType } from 'hono/client';
import { api, ok } from '../lib/api.ts';

export type StaffRole = InferResponseType<(typeof api)['staff-roles']['$get'], 200>[number];

/** The staffing model (roles and how many of each a grid needs), loaded once per page. */
class StaffRoles {
  list = $state.raw<StaffRole[]>([]);
  private loading: Promise<void> | null = null;

  load(): Promise<void> {
    this.loading ??= ok(api['staff-roles'].$get())
      .then((r) => void (this.list = r))
      .catch(() => void (this.loading = null));
    return this.loading;
  }

  /** Required roles (besides the full-time worker, shown on its own) missing from a staff list. */
  missing(staff: { role: string }[]): StaffRole[] {
    return this.list.filter((r) => r.code !== 'full_time' && staff.filter((s) => s.role === r.code).length < r.minPerGrid);
  }
}

export const staffRoles = new StaffRoles();
