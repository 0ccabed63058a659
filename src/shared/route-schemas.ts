import { Type } from '@sinclair/typebox';

/**
 * Schemas that routes of both runtimes use and that are not part of the wire contract
 * (`src/protocol`): the shape of a path or a query, not of a document.
 */

/** `/…/:id`: the id of a webhook, message, delivery or device. */
export const IdParams = Type.Object({ id: Type.String({ minLength: 1, maxLength: 64 }) });

/** `?limit=`: a page of at most 500, 50 when not given. */
export const PageLimit = Type.Integer({ minimum: 1, maximum: 500, default: 50 });
