import type { FastifySchemaValidationError } from 'fastify/types/schema.js';
import { ID_PATTERN, ID_RULE } from '../protocol/ids.ts';

/**
 * Turn Ajv's errors into one sentence a user can act on: the field by name, the allowed values
 * of an enumeration, the unknown key. (The app's error handler prefixes "invalid body: ".)
 */
export function formatValidationErrors(errors: FastifySchemaValidationError[], _dataVar: string): Error {
  const first = errors[0];
  if (!first) return new Error('the request does not match the schema');
  const path = fieldPath(first.instancePath);
  const params = (first.params ?? {}) as Record<string, unknown>;
  const subject = path || 'the document';
  switch (first.keyword) {
    case 'const':
    case 'enum':
    case 'anyOf': {
      const allowed = errors
        .filter((e) => e.instancePath === first.instancePath && e.keyword === 'const')
        .map((e) => JSON.stringify((e.params as { allowedValue?: unknown }).allowedValue));
      if (allowed.length > 0) return new Error(`${subject} must be one of ${allowed.join(', ')}`);
      if (first.keyword === 'enum')
        return new Error(
          `${subject} must be one of ${((params.allowedValues as unknown[]) ?? []).map((v) => JSON.stringify(v)).join(', ')}`,
        );
      // a union of shapes (e.g. string or null): the first branch's complaint is the useful one
      const inner = errors.find((e) => e.instancePath === first.instancePath && e.keyword !== 'anyOf');
      return new Error(`${subject} ${inner?.message ?? first.message ?? 'is not valid'}`);
    }
    case 'pattern':
      if (params.pattern === ID_PATTERN) return new Error(`${subject} ${ID_RULE}`);
      return new Error(`${subject} ${first.message ?? 'is not valid'}`);
    case 'additionalProperties':
      return new Error(`${path ? `${path}: ` : ''}unknown key "${String(params.additionalProperty)}"`);
    case 'required':
      return new Error(`${path ? `${path}.` : ''}${String(params.missingProperty)} is required`);
    case 'type':
      return new Error(
        `${subject} must be ${params.type === 'object' && !path ? 'a JSON object' : `of type ${String(params.type)}`}`,
      );
    default:
      return new Error(`${subject} ${first.message ?? 'is not valid'}`);
  }
}

/** `/recipients/0/state` → `recipients[0].state`; `/0/id` → `[0].id` */
function fieldPath(instancePath: string): string {
  return instancePath
    .split('/')
    .filter(Boolean)
    .map((part) => part.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, part) => (/^\d+$/.test(part) ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part), '');
}
