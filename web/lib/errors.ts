import { get } from 'svelte/store';
import { _ } from 'svelte-i18n';
import { ApiError } from './api.ts';

/**
 * What went wrong, in the reader's language: the server's error code looked up under the view's
 * own words first (`edit.error.overlaps_siblings`), then the shared ones (`errors.outside_scope`),
 * with the values the server sent along (a code, a limit); the server's own message only for a
 * code we have no words for.
 */
export function errorText(err: unknown, area?: string): string {
  const t = get(_);
  if (!(err instanceof ApiError)) {
    return err instanceof TypeError ? t('errors.network') : t('errors.unknown', { values: { message: err instanceof Error ? err.message : String(err) } });
  }
  const values: Record<string, string | number> = {
    message: err.message,
    ...(Array.isArray(err.details)
      ? { count: err.details.length }
      : err.details && typeof err.details === 'object'
        ? (err.details as Record<string, string | number>)
        : {}),
  };
  // A form field the server's schema refused (json.phone, json.roles.6.code): in the reader's words where we have them.
  if (err.code === 'invalid_request' && err.path) {
    const field = err.path
      .split('.')
      .filter((p) => !/^\d+$/.test(p))
      .pop();
    const text = field ? t(`errors.invalidField.${field}`, { default: '' }) : '';
    if (text) return text;
  }
  // an undo refused for what came after: said by its cause (a region changed, a grid added under one, cases handled…)
  const reason = err.code === 'version_conflict' && typeof values.reason === 'string' ? [`errors.undoBlocked.${values.reason}`] : [];
  for (const key of [...reason, ...(area ? [`${area}.error.${err.code}`] : []), `errors.${err.code}`]) {
    const text = t(key, { values, default: '' });
    if (text) return text;
  }
  return err.message;
}
