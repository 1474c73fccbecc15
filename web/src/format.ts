/** How values read as text: short, with units, the same everywhere on the page. */

const numbers = new Intl.NumberFormat(undefined, { maximumFractionDigits: 2 });
const times = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

export function formatValue(value: unknown, unit?: string): string {
  if (value === undefined) return '—';
  if (value === null) return 'none';
  if (typeof value === 'number') return unit ? `${numbers.format(value)} ${unit}` : numbers.format(value);
  if (typeof value === 'boolean') return value ? 'on' : 'off';
  if (typeof value === 'string') return unit ? `${value} ${unit}` : value;
  if (Array.isArray(value)) return value.map((item) => formatValue(item)).join(', ');
  if (typeof value === 'object') {
    // Flat records (a robot's pose, motor speeds) read better as "x 12, y 3" than as JSON.
    return Object.entries(value as Record<string, unknown>)
      .map(([key, item]) => `${key} ${typeof item === 'object' && item !== null ? JSON.stringify(item) : formatValue(item)}`)
      .join(', ');
  }
  return String(value);
}

export function formatTime(ms: number): string {
  return times.format(new Date(ms));
}

/** One line for an event's data in the log. */
export function formatData(data: unknown): string {
  if (data === undefined || data === null) return '';
  if (typeof data === 'object') return JSON.stringify(data);
  return String(data);
}
