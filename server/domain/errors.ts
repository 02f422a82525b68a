/**
 * An error the caller can fix: a machine-readable `code`, a message naming the wrong
 * values, and the `path` in the input where it is. The HTTP layer maps it to a status.
 */
export class InputError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly path: string = '',
    readonly status: 400 | 401 | 403 | 404 | 409 | 413 | 415 | 422 | 429 = 422,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'InputError';
  }
}

export const notFound = (what: string, id: unknown, path = 'id') => new InputError('not_found', `${what} ${JSON.stringify(id)} does not exist`, path, 404);
