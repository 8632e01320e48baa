// Date ranges and the bucket width that fits them.  All times are UTC, like the API's buckets.

export const DAY = 86400;
export const HOUR = 3600;

export type Width = "1h" | "1d";

export interface Range {
  key: string; // "7d" or "custom"
  start: number; // Unix seconds, inclusive
  end: number; // Unix seconds, exclusive
  width: Width;
}

/** Up to two days: hourly buckets (≤ 48 bars); longer: daily. */
export function widthFor(seconds: number): Width {
  return seconds <= 2 * DAY ? "1h" : "1d";
}

/**
 * A preset "last N days": hourly ranges end at the next hour edge, daily ones at the end of
 * today (UTC), so every bucket is whole and the query stays the same for a while (it caches).
 */
export function presetRange(key: string, now: number): Range {
  const days = Math.max(1, parseInt(key, 10) || 30);
  const width = widthFor(days * DAY);
  const step = width === "1h" ? HOUR : DAY;
  const end = (Math.floor(now / step) + 1) * step;
  return { key: `${days}d`, start: end - days * DAY, end, width };
}

/** `YYYY-MM-DD` (UTC) to Unix seconds at that day's start, or null. */
export function parseDay(text: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
  if (!m) return null;
  const t = Date.UTC(+m[1], +m[2] - 1, +m[3]) / 1000;
  return Number.isFinite(t) ? t : null;
}

export function dayText(t: number): string {
  return new Date(t * 1000).toISOString().slice(0, 10);
}

/** Both days included; null when a day is missing or the order is wrong. */
export function customRange(from: string, to: string): Range | null {
  const a = parseDay(from);
  const b = parseDay(to);
  if (a === null || b === null || b < a) return null;
  const end = b + DAY;
  return { key: "custom", start: a, end, width: widthFor(end - a) };
}

export function monthStart(now: number): number {
  const d = new Date(now * 1000);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1) / 1000;
}

export function nextMonthStart(now: number): number {
  const d = new Date(now * 1000);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1) / 1000;
}
