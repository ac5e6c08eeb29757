import 'server-only';
import { phiFieldNames } from '@/lib/platform/log/phi-map';

const REDACTED = '[redacted]';
const MAX_DEPTH = 6;

/** A copy of a value with every PHI-bearing field replaced; for logs and error reports. */
export function redact(value: unknown, depth = 0): unknown {
  if (value === null || typeof value !== 'object') return value;
  if (depth > MAX_DEPTH) return REDACTED;
  if (Array.isArray(value)) return value.map((item) => redact(item, depth + 1));
  if (value instanceof Error) return { name: value.name, message: REDACTED };
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>).map(([key, inner]) =>
      phiFieldNames.has(key) ? [key, REDACTED] : [key, redact(inner, depth + 1)],
    ),
  );
}
