import { Type } from '@sinclair/typebox';

/** Every error reply, on every API: `{"message": "..."}`. */
export const ErrorBodySchema = Type.Object({ message: Type.String() });
