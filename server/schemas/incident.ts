import { z } from '@hono/zod-openapi';
import { INCIDENT_STATUSES } from '../domain/incidents.ts';

/** An incident as the API shows it (and as `INCIDENT_JSON` builds it in SQL). */
export const IncidentSchema = z
  .object({
    id: z.number().int(),
    lon: z.number(),
    lat: z.number(),
    category: z.string(),
    severity: z.number().int(),
    description: z.string(),
    reportedAt: z.string(),
    reporterId: z.number().int().nullable(),
    status: z.enum(INCIDENT_STATUSES),
    gridId: z.number().int().nullable(),
    department: z.string().nullable(),
    dispatchedAt: z.string().nullable(),
    resolvedAt: z.string().nullable(),
    closedAt: z.string().nullable(),
    feedback: z.string().nullable(),
    version: z.number().int(),
    overdue: z.boolean(),
    source: z.enum(['worker', 'hotline', 'import']),
    address: z.string().nullable(),
    locatedBy: z.string().nullable(),
  })
  .openapi('Incident');

export type Incident = z.infer<typeof IncidentSchema>;
