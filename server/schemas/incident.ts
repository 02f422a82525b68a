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
    gridId: z.number().int().nullable().openapi({ description: 'the grid its place lies in now' }),
    solvedLevel: z
      .enum(['grid', 'village', 'township', 'district', 'department'])
      .nullable()
      .openapi({ description: 'who solved it: on the spot at a level, or the departments' }),
    resolutionNote: z.string().nullable().openapi({ description: 'what was done on the spot' }),
    satisfaction: z.enum(['satisfied', 'basically', 'unsatisfied']).nullable().openapi({ description: "the resident's verdict at closing" }),
    assignedRegionId: z.number().int().nullable().openapi({ description: 'sent down to this village or grid to handle locally (交办)' }),
    void: z
      .object({ kind: z.enum(['invalid', 'duplicate']), reason: z.string(), at: z.string(), mergedInto: z.number().int().nullable() })
      .nullable()
      .openapi({ description: 'marked invalid (无效) or merged into another report of the same case (合并重复)' }),
    reopenCount: z.number().int().openapi({ description: 'times reopened after an unsatisfied verdict (重新办理)' }),
    photoUrls: z.array(z.string()).openapi({ description: 'the photos taken with the report' }),
    reopenedAt: z.string().nullable(),
    reopenReason: z.string().nullable(),
    reviewedAt: z.string().nullable().openapi({ description: '不满意复核: when the centre kept the closure of an unsatisfied case' }),
    reviewNote: z.string().nullable().openapi({ description: 'why the closure stands' }),
    assignedRegionName: z.string().nullable(),
    gridName: z.string().nullable().openapi({ description: 'the grid its place lies in now' }),
    area: z
      .object({ township: z.string(), county: z.string().nullable() })
      .nullable()
      .optional()
      .openapi({ description: "the township of that grid, and its county where the plan is a city's (village names repeat across counties)" }),
    filedGridId: z.number().int().nullable().openapi({ description: 'the grid it was filed in at its time (kept when the plan changes)' }),
    filedGridName: z.string().nullable().openapi({ description: 'that grid’s name then' }),
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
    /** (the centre's intake only) what came of the case before it came back */
    history: z
      .object({
        returns: z.array(z.object({ department: z.string(), en: z.string(), code: z.string(), reason: z.string().nullable(), at: z.string() })),
        answers: z.array(z.object({ department: z.string(), code: z.string(), answer: z.string(), at: z.string() })),
        reporter: z
          .object({ name: z.string(), phone: z.string() })
          .nullable()
          .optional()
          .openapi({ description: 'the grid worker who reported it, to call back' }),
        respondBy: z.string().optional().openapi({
          description: "when it is to be taken up: reported (or, back at the centre, when it came back) + its category's hours to acknowledge at its severity",
        }),
        backAt: z.string().nullable().optional().openapi({ description: 'when it last came back to the centre (sent back, or reopened); null if never' }),
      })
      .optional()
      .openapi({
        description: "the centre's intake only: the departments that sent it back and why (退回), and the answers given before it was reopened",
      }),
  })
  .openapi('Incident');

export type Incident = z.infer<typeof IncidentSchema>;

export const PHOTO_TYPES = ['image/jpeg', 'image/png', 'image/webp'] as const;
export type PhotoType = (typeof PHOTO_TYPES)[number];

/** A photo of an incident, as listed (the image itself is at `url`). */
export const PhotoSchema = z
  .object({ id: z.number().int(), incidentId: z.number().int(), mime: z.enum(PHOTO_TYPES), size: z.number().int(), url: z.string() })
  .openapi('Photo');
export type Photo = z.infer<typeof PhotoSchema>;

/** A department's part in an incident, as the grid worker sees it. */
export const FieldDispatchSchema = z.object({
  id: z.number().int(),
  department: z.object({ code: z.string(), zh: z.string(), en: z.string() }),
  dispatchedAt: z.string(),
  dueAt: z.string(),
  acknowledgedAt: z.string().nullable(),
  resolvedAt: z.string().nullable(),
  answer: z.string().nullable(),
  overdue: z.enum(['ack', 'resolve']).nullable(),
  /** The department's photos of what it did. */
  answerPhotos: z.array(z.string()),
});

/** An open incident of a grid with the departments' answers and its photos (the worker's list). */
export const FieldIncidentSchema = IncidentSchema.extend({ dispatches: z.array(FieldDispatchSchema), photos: z.array(PhotoSchema) }).openapi('FieldIncident');
export type FieldIncident = z.infer<typeof FieldIncidentSchema>;
