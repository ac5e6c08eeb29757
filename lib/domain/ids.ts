import 'server-only';

/**
 * The one shape check for ids that arrive from outside (URLs, forms, cookies): text in the
 * 8-4-4-4-12 hex form. Anything else is refused before it reaches a query.
 */
const UUID_SHAPE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && UUID_SHAPE.test(value);
}
