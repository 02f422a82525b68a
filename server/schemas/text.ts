import { z } from '@hono/zod-openapi';
import { isOneLine } from '../domain/text.ts';

const ONE_LINE = 'a name is one line of what it shows: no line breaks, tabs, control characters or invisible ones (a zero-width space, U+202E)';

/** A name a person reads and picks from a list (a department, a category, a role, a person): trimmed, 1…max, one visible line. */
export const NameText = (max: number) => z.string().trim().min(1).max(max).refine(isOneLine, ONE_LINE);
/** The same, where it may be left empty (a contact person). */
export const OptionalNameText = (max: number) => z.string().trim().max(max).refine(isOneLine, ONE_LINE);
