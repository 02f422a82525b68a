import { z } from '@hono/zod-openapi';
import { NameText } from './text.ts';

/** A staffing role of grids (网格长, 专职网格员, 警务网格员…) and how many of it each grid needs. */
export const StaffRoleSchema = z
  .object({
    code: z.string().regex(/^[a-z][a-z0-9_]{1,31}$/, 'lower-case letters, digits and _ (2–32), starting with a letter'),
    zh: NameText(20),
    en: NameText(40),
    minPerGrid: z.number().int().min(0).max(20).openapi({ description: 'members of this role each grid needs; 0: optional' }),
  })
  .openapi('StaffRole');
export type StaffRole = z.infer<typeof StaffRoleSchema>;

/** A person who can staff grids. */
export const WorkerSchema = z.object({ id: z.number().int(), name: z.string(), phone: z.string(), role: z.string() }).openapi('Worker');
export type Worker = z.infer<typeof WorkerSchema>;

export const NewWorkerSchema = z.object({
  name: NameText(50),
  phone: z
    .string()
    .trim()
    .regex(/^[0-9+\-* ]{0,20}$/, 'digits, +, -, * and spaces (up to 20)')
    .default(''),
  role: z.string().min(1).max(32).default('full_time'),
});
export type NewWorker = z.infer<typeof NewWorkerSchema>;

/** A worker with the grid they serve as its full-time worker, if any. */
export const WorkerListItemSchema = WorkerSchema.extend({
  gridId: z.number().int().nullable(),
  gridName: z.string().nullable(),
  villageId: z.number().int().nullable().openapi({ description: 'the village or community of that grid' }),
  villageName: z.string().nullable(),
  roleZh: z.string().openapi({ description: 'the staff role in words (网格长, 专职网格员…)' }),
  roleEn: z.string(),
  staffGrids: z.number().int().openapi({ description: 'grids served besides as full-time worker (网格长, 网格警员, 兼职…)' }),
  staffGridName: z.string().nullable().openapi({ description: 'the first of them' }),
});
export type WorkerListItem = z.infer<typeof WorkerListItemSchema>;
