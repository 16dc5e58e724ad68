// One formatter for the page: toLocaleString builds a new one on every call, which a busy feed would pay per item.
const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: 'short', timeStyle: 'medium' });
export const time = (iso: string | number) => dateTime.format(new Date(iso));

/** A rate as a percentage; a dash when there was nothing to divide by (the API answers null). */
export const percent = (rate: number | null | undefined, digits = 1) => (rate === null || rate === undefined ? '–' : `${(rate * 100).toFixed(digits)}%`);

export const signed = (n: number) => (n > 0 ? `+${n}` : String(n));

export const label = (value: string) => value.charAt(0) + value.slice(1).toLowerCase().replace(/_/g, ' ');

export function messageOf(error: unknown): string {
  if (error && typeof error === 'object' && 'code' in error && 'message' in error) {
    const { code, reason, message } = error as { code: string; reason?: string; message: string };
    return `${message} (${reason ?? code})`;
  }
  return error instanceof Error ? error.message : String(error);
}
