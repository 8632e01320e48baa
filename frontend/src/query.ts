// The API queries the views make, built from the range and filters alone (no charts, no DOM): the
// page's first script (boot.ts) builds the first view's queries with these same functions.

import type { Params } from "./api";
import type { Tab } from "./hash";
import { DAY, monthStart, type Range, type Width } from "./range";
import { endpoint, filterParam, maxLimit } from "./spec";

export interface Filters { project_id: string; model: string; api_key_id: string; origin: string }

/** What a query depends on: the view's range, its filters and the time now (Unix seconds). */
export interface Scope { range: Range; filters: Filters; now: number }

const FILTER_WORDS: [keyof Filters, string][] = [
  ["project_id", "project"], ["model", "model"], ["api_key_id", "key"], ["origin", "source"],
];

export interface Query { path: string; params: Params; ignored: string[]; model: string | null }

/**
 * The query for one endpoint over the view's range and filters.  A filter the endpoint lacks is
 * named in `ignored` (shown on the card) except the model filter on costs, applied to line items.
 */
export function query(ctx: Scope, name: string, groupBy: string[] = [],
  over?: { start: number; end: number; width: Width }): Query {
  const ep = endpoint(name);
  const width = ep.limits[ctx.range.width] ? (over?.width ?? ctx.range.width) : "1d";
  const params: Params = [
    ["start_time", String(over?.start ?? ctx.range.start)],
    ["end_time", String(over?.end ?? ctx.range.end)],
    ["bucket_width", width],
    ["limit", String(maxLimit(ep, width))],
  ];
  const group = [...groupBy];
  const ignored: string[] = [];
  let model: string | null = null;
  for (const [dim, word] of FILTER_WORDS) {
    const value = ctx.filters[dim];
    if (!value) continue;
    const param = filterParam(ep, dim);
    if (param) params.push([param, value]);
    else if (dim === "model" && ep.group_by.includes("line_item")) {
      model = value;
      if (!group.includes("line_item")) group.push("line_item");
    } else ignored.push(word);
  }
  for (const g of group) params.push(["group_by", g]);
  return { path: ep.path, params, ignored, model };
}

/**
 * The Costs view's queries: ungrouped completions over the range (the Usage card), costs by line
 * item over the range, and the month so far when the range does not hold it (`month`, else null).
 */
export function costsQueries(ctx: Scope): { usage: Query; main: Query; month: Query | null } {
  const ms = monthStart(ctx.now);
  const todayEnd = (Math.floor(ctx.now / DAY) + 1) * DAY;
  // The month so far comes from the range's answer when the range holds it: no second request.
  const monthInside = ctx.range.start <= ms && ctx.range.end >= todayEnd;
  return {
    usage: query(ctx, "completions"),
    main: query(ctx, "costs", ["line_item"]),
    month: monthInside ? null : query(ctx, "costs", ["line_item"], { start: ms, end: todayEnd, width: "1d" }),
  };
}

/** The Tokens and Requests views' one query (one answer serves both): completions by model. */
export const byModelQuery = (ctx: Scope): Query => query(ctx, "completions", ["model"]);

/**
 * The queries a view asks first, for the page's first script to send before the app runs: the
 * Costs view's and the Tokens and Requests views' (whichever sub-view is shown, its query is the
 * same); none for the other views, which the app asks for as usual.
 */
export function firstQueries(tab: Tab, ctx: Scope): Query[] {
  if (tab === "costs") {
    const { usage, main, month } = costsQueries(ctx);
    return month ? [usage, main, month] : [usage, main];
  }
  return tab === "tokens" || tab === "requests" ? [byModelQuery(ctx)] : [];
}
