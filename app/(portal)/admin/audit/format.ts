/** Audit times to the second, always UTC, so every reader of the trail sees the same instant. */
export function formatInstant(iso: string): string {
  return `${iso.slice(0, 19).replace('T', ' ')} UTC`;
}

/** The first value of a search parameter (Next gives arrays for repeated keys). */
export function firstParam(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

export const filterKeys = ['user', 'patient', 'action', 'outcome', 'from', 'to', 'breakGlass'] as const;

/** The filter part of a query string, for export links and page links. */
export function filterQuery(params: Record<string, string | undefined>, extra: Record<string, string> = {}): string {
  const query = new URLSearchParams();
  for (const key of filterKeys) {
    const value = params[key];
    if (value) query.set(key, value);
  }
  for (const [key, value] of Object.entries(extra)) query.set(key, value);
  return query.toString();
}
