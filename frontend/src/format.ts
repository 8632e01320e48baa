// Numbers and dates as the page shows them (exact figures in tables, compact ones in cards).

const intFmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const usdFmt = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 2 });
const compactFmt = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 2 });
const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

export const fmtInt = (n: number): string => intFmt.format(Math.round(n));
const numFmt = new Intl.NumberFormat("en-US", { maximumFractionDigits: 4 });
export const fmtNum = (n: number): string => numFmt.format(n);
export const fmtUsd = (n: number): string => usdFmt.format(n);
export const fmtCompact = (n: number): string => compactFmt.format(n);
const usdFineFmt = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", minimumFractionDigits: 2, maximumFractionDigits: 4 });
/** Dollars on a chart: cents, or down to 1/100 of a cent below a dollar, so small steps stay apart. */
export const fmtUsdChart = (n: number): string => (Math.abs(n) < 1 ? usdFineFmt : usdFmt).format(n);
export const fmtGiB = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(2)} GiB`;

const BYTE_UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

/**
 * The binary unit a chart of bytes is drawn in, from its largest value: charting 20 GiB as
 * GiB (not bytes) lets the axis pick round steps in that unit (5 GiB, not 4.66 GiB).
 */
export function byteUnit(max: number): { size: number; name: string } {
  const i = max >= 1 ? Math.min(Math.floor(Math.log2(max) / 10), BYTE_UNITS.length - 1) : 0;
  return { size: 2 ** (10 * i), name: BYTE_UNITS[i] };
}

/** A metric's value: bytes as GiB, money as dollars, counts as integers. */
export function fmtMetric(name: string, n: number, compact = false): string {
  if (name.endsWith("_bytes")) return fmtGiB(n);
  if (name === "amount") return fmtUsd(n);
  return compact ? fmtCompact(n) : fmtInt(n);
}

/** A metric's name as words: num_sessions → sessions, usage_bytes → storage. */
export function metricWords(name: string): string {
  if (name.endsWith("_bytes")) return "storage";
  return name.replace(/^num_/, "").replace(/_/g, " ");
}

/** An endpoint's name as a title: audio_speeches → Audio speeches. */
export function titleOf(name: string): string {
  const words = name.replace(/_/g, " ");
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function bucketLabel(t: number, hourly: boolean): string {
  const d = new Date(t * 1000);
  const day = `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}`;
  return hourly ? `${day} ${String(d.getUTCHours()).padStart(2, "0")}:00` : day;
}

export function rangeWords(start: number, end: number): string {
  const a = new Date(start * 1000);
  const b = new Date((end - 1) * 1000);
  const day = (d: Date) => `${MONTHS[d.getUTCMonth()]} ${d.getUTCDate()}, ${d.getUTCFullYear()}`;
  const hm = (d: Date) => `${String(d.getUTCHours()).padStart(2, "0")}:00`;
  if (end - start <= 2 * 86400) return `${day(a)} ${hm(a)} – ${day(b)} ${hm(new Date(end * 1000))} UTC`;
  return `${day(a)} – ${day(b)} (UTC)`;
}

export const monthName = (t: number): string =>
  ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
    "December"][new Date(t * 1000).getUTCMonth()];
