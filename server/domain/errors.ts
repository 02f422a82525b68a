/**
 * An error the caller can fix: a machine-readable `code`, a message naming the wrong values, the
 * `path` in the input where it is, and `details` a client can act on. What status it answers with
 * is the HTTP layer's business (`http/errors.ts`), decided by its code.
 */
export class InputError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly path: string = '',
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'InputError';
  }
}

export const notFound = (what: string, id: unknown, path = 'id') => new InputError('not_found', `${what} ${JSON.stringify(id)} does not exist`, path);
