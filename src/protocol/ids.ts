import { Type } from '@sinclair/typebox';

/**
 * What an id may hold, on every route of both runtimes and in every store: no control character.
 * PostgreSQL cannot store a NUL, so an id SQLite took would be refused once it reached the server
 * (in an activity report, say); and a line break or escape in an id would end up in logs and pages.
 */
export const ID_PATTERN = '^[^\\u0000-\\u001F\\u007F]*$';

/** What the validation error says when an id breaks `ID_PATTERN`. */
export const ID_RULE = 'must not contain control characters (a NUL, a line break, an escape)';

/** An id of 1 to `maxLength` characters (0 with `allowEmpty`: "" asks for a generated one). */
export const IdString = (maxLength: number, options: { allowEmpty?: boolean; description?: string } = {}) =>
  Type.String({
    minLength: options.allowEmpty ? 0 : 1,
    maxLength,
    pattern: ID_PATTERN,
    ...(options.description ? { description: options.description } : {}),
  });
