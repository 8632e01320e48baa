// The dashboard's views.  Each asks the API only for what it shows, draws cards as answers
// arrive, and tells loading, empty and failed cards apart (data-state on each card).

import { ApiError, type Api, type Bucket, type Result } from "./api";
import { barChart, type Series } from "./charts";
import { card, h, kpi, type Card } from "./dom";
import { bucketLabel, byteUnit, fmtCompact, fmtInt, fmtMetric, fmtNum, fmtUsd, fmtUsdChart, metricWords, monthName, rangeWords, titleOf } from "./format";
import type { Tab } from "./hash";
import { byModelQuery, costsQueries, query, type Filters, type Query, type Scope } from "./query";
import { DAY, dayText, monthStart, nextMonthStart } from "./range";
import { spec } from "./spec";
import { dataTable, type Column, type Row } from "./table";


export interface Ctx extends Scope {
  api: Api;
  sub: Record<string, string>;
  stale(): boolean;
  /**
   * Marks a card's loading as part of the first view: the cards that need no costs answer.  The
   * first view is drawn once these are (costs, the slowest answer, fill in after); a view that
   * marks none is drawn when all of it is.
   */
  early(p: Promise<void>): Promise<void>;
  pick(dim: keyof Filters, value: string): void;
  setSub(key: string, value: string): void;
}

/** What a row without a name holds, per dimension (shown beside "(none)"). */
const NONE_WORDS: Record<string, string> = {
  project_id: "usage not attributed to a project (sent without a project_id)",
  api_key_id: "usage not attributed to an API key: sent without one, or made by no key, such as vector storage and code interpreter sessions",
  user_id: "usage not attributed to a user: requests that named no user, and usage no user makes, such as vector storage and code interpreter sessions",
  model: "usage not attributed to a model (sent without one)",
};

/** A cost line item's model: "gpt-4o-2024-08-06, cached input" → "gpt-4o-2024-08-06". */
export const modelOf = (lineItem: string): string => lineItem.split(", ")[0];

/** A result field as a number (costs carry `amount: {value, currency}`). */
export function num(v: unknown): number {
  if (typeof v === "number") return v;
  if (v && typeof v === "object" && "value" in v) return Number((v as { value: unknown }).value) || 0;
  return Number(v) || 0;
}

export async function fetchQuery(ctx: Ctx, q: Query): Promise<Bucket[]> {
  const buckets = await ctx.api.buckets(q.path, q.params, ctx.stale);
  if (q.model === null) return buckets;
  return buckets.map((b) => ({ ...b, results: b.results.filter((r) => modelOf(String(r.line_item ?? "")) === q.model) }));
}

/** Per-bucket sums of `value`, one series per `key`. */
function stack(buckets: Bucket[], key: (r: Result) => string, value: (r: Result) => number): Series[] {
  const out = new Map<string, number[]>();
  buckets.forEach((b, i) => {
    for (const r of b.results) {
      const k = key(r);
      if (!out.has(k)) out.set(k, new Array(buckets.length).fill(0));
      out.get(k)![i] += value(r);
    }
  });
  return [...out.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([label, data]) => ({ label, data }));
}

/** Sums of `fields` over every bucket, one row per `key`. */
function totals(buckets: Bucket[], key: (r: Result) => string, fields: string[]): Map<string, Record<string, number>> {
  const out = new Map<string, Record<string, number>>();
  for (const b of buckets) for (const r of b.results) {
    const k = key(r);
    const row = out.get(k) ?? Object.fromEntries(fields.map((f) => [f, 0]));
    for (const f of fields) row[f] += num(r[f]);
    out.set(k, row);
  }
  return out;
}

const sumOf = (buckets: Bucket[], f: (r: Result) => number): number =>
  buckets.reduce((a, b) => a + b.results.reduce((x, r) => x + f(r), 0), 0);
const hasData = (buckets: Bucket[]): boolean => buckets.some((b) => b.results.length > 0);
const labelsOf = (buckets: Bucket[]): string[] =>
  buckets.map((b) => bucketLabel(b.start_time, b.end_time - b.start_time <= 3600));

/** Runs a card's loading; errors become words on the card, a superseded view is left alone. */
async function load(c: Card, ctx: Ctx, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
    if (!ctx.stale() && c.root.dataset.state === "loading") c.setState("ready");
  } catch (e) {
    if (ctx.stale()) return;
    if (e instanceof ApiError && e.status === -1) return;
    c.setState("error", e instanceof Error ? e.message : String(e));
  }
}

function chartBox(): [HTMLElement, HTMLCanvasElement] {
  const canvas = h("canvas");
  return [h("div", { class: "chart" }, canvas), canvas];
}

function ignoredNote(q: Query): HTMLElement | "" {
  return q.ignored.length ? h("p", { class: "note muted", text: `Not filtered by ${q.ignored.join(" or ")}: this usage has no such field.` }) : "";
}

/** A model name as one shell word, to paste into a terminal. */
const shellWord = (s: string): string => (/^[\w.:/@+-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);

/**
 * Which models the costs answers could not price (their usage is missing from the amounts) and
 * the command that sets a price, from the first day shown.
 */
function unpricedNote(ctx: Ctx, queries: (Query | null)[]): HTMLElement | "" {
  const names = [...new Set(queries.flatMap((q) => (q ? ctx.api.unpriced(q.path, q.params) : [])))].sort();
  if (!names.length) return "";
  const shown = names.slice(0, 5);
  const from = dayText(ctx.range.start);
  return h("div", { class: "unpriced", role: "status", "data-unpriced": names.join(",") },
    h("p", { class: "unpriced-head", text: `No price is set for ${names.length === 1 ? "1 model" : `${names.length} models`}: `
      + `${names.join(", ")}. ${names.length === 1 ? "Its" : "Their"} usage is not in these amounts.` }),
    h("p", { text: "Set a price (IN and OUT: USD per 1M input and output tokens), then press Refresh:" }),
    ...shown.map((n) => h("pre", {}, h("code", { text: `openusage prices set ${shellWord(n)} --input IN --output OUT --from ${from}` }))),
    names.length > shown.length ? h("p", { text: `…and ${names.length - shown.length} more.` }) : null,
    h("p", { class: "muted", text: "openusage prices missing lists the unpriced usage; models priced per image, second "
      + "or call take other fields (openusage prices set --help)." }));
}

function toggle(ctx: Ctx, key: string, options: [string, string][], current: string): HTMLElement {
  return h("div", { class: "segmented", role: "group" }, ...options.map(([value, label]) => {
    const b = h("button", { type: "button", "data-sub": `${key}=${value}`, "aria-pressed": String(value === current), text: label });
    b.addEventListener("click", () => ctx.setSub(key, value));
    return b;
  }));
}

function emptyText(what: string): string {
  return `No ${what} in this range with these filters.`;
}

// -- costs ----------------------------------------------------------------------------------------

/** Input (uncached), cached input and output tokens per bucket, stacked. */
function tokenKinds(buckets: Bucket[]): Series[] {
  const per = (f: (r: Result) => number) => buckets.map((b) => b.results.reduce((a, r) => a + f(r), 0));
  return [
    { label: "Input (uncached)", data: per((r) => num(r.input_tokens) - num(r.input_cached_tokens)) },
    { label: "Cached input", data: per((r) => num(r.input_cached_tokens)) },
    { label: "Output", data: per((r) => num(r.output_tokens)) },
  ];
}

/**
 * The usage behind the costs: requests and tokens of the range, and tokens per bucket.  One
 * ungrouped completions query, much cheaper than pricing every line item, so it is drawn while the
 * costs are still being computed.
 */
function usageCard(ctx: Ctx): [Card, Promise<void>] {
  const c = card(`Usage: tokens per ${ctx.range.width === "1h" ? "hour" : "day"}`, "cost-usage", true);
  const q = costsQueries(ctx).usage;
  const data = fetchQuery(ctx, q);
  const drawn = ctx.early(load(c, ctx, async () => {
    const buckets = await data;
    const t = { requests: 0, input: 0, output: 0 };
    for (const b of buckets) for (const r of b.results) {
      t.requests += num(r.num_model_requests);
      t.input += num(r.input_tokens);
      t.output += num(r.output_tokens);
    }
    const kpis = h("div", { class: "kpis" },
      kpi("usage-requests", "Model requests", t.requests, fmtCompact(t.requests), "completions, all models"),
      kpi("usage-input_tokens", "Input tokens", t.input, fmtCompact(t.input), "cached included"),
      kpi("usage-output_tokens", "Output tokens", t.output, fmtCompact(t.output)));
    c.setState(hasData(buckets) ? "ready" : "empty");
    if (!hasData(buckets)) {
      c.body.replaceChildren(kpis, h("p", { class: "state state-empty", text: emptyText("completions usage") }), ignoredNote(q));
      return;
    }
    const [box, canvas] = chartBox();
    c.body.replaceChildren(kpis, box, ignoredNote(q));
    await barChart(canvas, labelsOf(buckets), tokenKinds(buckets), fmtCompact);
  }));
  return [c, drawn];
}

const COSTS_LOADING = "Computing costs…";

export async function costsView(ctx: Ctx, root: HTMLElement): Promise<void> {
  const by = ctx.sub.costsBy === "line_item" ? "line_item" : "model";
  // The usage is asked for first: its answer comes long before the costs' and is drawn at once.
  const [usage, usageDrawn] = usageCard(ctx);
  const summary = card("Spend", "cost-summary", true);
  const chart = card(by === "model" ? "Cost per day by model" : "Cost per day by line item", "cost-chart", true);
  const table = card(by === "model" ? "Cost by model" : "Cost by line item", "cost-table", true);
  for (const c of [summary, chart, table]) c.setState("loading", COSTS_LOADING);
  chart.root.querySelector("h2")!.after(toggle(ctx, "costsBy", [["model", "By model"], ["line_item", "By line item"]], by));
  root.append(summary.root, usage.root, chart.root, table.root);

  const { main, month: monthQuery } = costsQueries(ctx);
  const ms = monthStart(ctx.now);
  const me = nextMonthStart(ctx.now);
  const todayEnd = (Math.floor(ctx.now / DAY) + 1) * DAY;
  // Sent at once, right after the usage request.  Holding costs back until the usage answer was in
  // drew the usage ~30-50 ms sooner on a loaded 2-core server but the whole view ~70-100 ms later
  // (docs/dashboard.md), and would cost a round trip more across a network.
  const fetched = Promise.all([fetchQuery(ctx, main), monthQuery ? fetchQuery(ctx, monthQuery) : Promise.resolve(null)]);
  // The costs cards are drawn after the first view, in a task of their own: when both answers are
  // in together, the usage card is drawn (and can be painted) first, not after the costs' chart and
  // table, the heavier work.  The usage card never fails its promise (load() tells errors on it).
  const both = fetched.then(async (answers) => {
    await usageDrawn;
    await new Promise((r) => setTimeout(r, 0));
    return answers;
  });

  const amount = (r: Result) => num(r.amount);
  await Promise.all([
    usageDrawn,
    load(summary, ctx, async () => {
      const [buckets, month] = await both;
      const inMonth = (month ?? buckets).filter((b) => b.start_time >= ms && b.start_time < todayEnd);
      const total = sumOf(buckets, amount);
      const mtd = sumOf(inMonth, amount);
      const elapsed = Math.max(ctx.now - ms, 3600) / (me - ms);
      const projected = mtd / Math.min(1, elapsed);
      const name = monthName(ctx.now);
      summary.setState("ready");
      summary.body.replaceChildren(h("div", { class: "kpis" },
        kpi("cost-total", "Total in range", total, fmtUsd(total), rangeWords(ctx.range.start, ctx.range.end)),
        kpi("cost-mtd", `${name} to date`, mtd, fmtUsd(mtd), "this month so far (UTC)"),
        kpi("cost-projection", `Projected for ${name}`, projected, fmtUsd(projected), "at this month's daily rate so far")),
      hasData(buckets) || hasData(month ?? []) ? "" : h("p", { class: "note muted",
        text: "No costs are recorded for this range. Costs come from the server's price catalog applied to usage, or from imported cost lines." }),
      unpricedNote(ctx, [main, monthQuery]));
    }),
    load(chart, ctx, async () => {
      const [buckets] = await both;
      if (!hasData(buckets)) return chart.setState("empty", emptyText("costs"));
      const key = by === "model" ? (r: Result) => modelOf(String(r.line_item ?? "")) : (r: Result) => String(r.line_item ?? "(none)");
      const [box, canvas] = chartBox();
      chart.setState("ready");
      chart.body.replaceChildren(box);
      await barChart(canvas, labelsOf(buckets), stack(buckets, key, amount), fmtUsdChart);
    }),
    load(table, ctx, async () => {
      const [buckets] = await both;
      if (!hasData(buckets)) return table.setState("empty", emptyText("costs"));
      table.setState("ready");
      if (by === "model") {
        const rows: Row[] = [...totals(buckets, (r) => modelOf(String(r.line_item ?? "")), ["amount"])]
          .map(([model, t]) => ({ model, amount: t.amount }));
        table.body.replaceChildren(dataTable("costs-by-model", [
          { key: "model", label: "Model", kind: "text" }, { key: "amount", label: "Cost (USD)", kind: "usd" },
        ], rows, "costs-by-model.csv", "amount"));
        return;
      }
      const units = new Map<string, string>();
      for (const b of buckets) for (const r of b.results) if (r.quantity_unit) units.set(String(r.line_item), String(r.quantity_unit));
      const rows: Row[] = [...totals(buckets, (r) => String(r.line_item ?? ""), ["amount", "quantity"])]
        .map(([line_item, t]) => ({ line_item, amount: t.amount, quantity: t.quantity, quantity_unit: units.get(line_item) ?? "" }));
      table.body.replaceChildren(dataTable("costs-by-line-item", [
        { key: "line_item", label: "Line item", kind: "text" }, { key: "amount", label: "Cost (USD)", kind: "usd" },
        { key: "quantity", label: "Quantity", kind: "num" }, { key: "quantity_unit", label: "Unit", kind: "text" },
      ], rows, "costs-by-line-item.csv", "amount"));
    }),
  ]);
}

// -- tokens and requests (one answer serves both) --------------------------------------------------

const TOKEN_FIELDS = ["input_tokens", "input_cached_tokens", "output_tokens", "num_model_requests"];
/** A table row's model: empty when the usage named none (the table shows "(none)" and why). */
const modelRow = (r: Result): string => String(r.model ?? "");
const pickModel = (ctx: Ctx) => (r: Row): void => { if (r.model) ctx.pick("model", String(r.model)); };

export async function tokensView(ctx: Ctx, root: HTMLElement): Promise<void> {
  const by = ctx.sub.tokensBy === "model" ? "model" : "kind";
  const summary = card("Tokens", "tokens-summary", true);
  const per = ctx.range.width === "1h" ? "hour" : "day";
  const chart = card(by === "model" ? `Tokens per ${per} by model` : `Tokens per ${per}: input, cached input, output`, "tokens-chart", true);
  chart.root.querySelector("h2")!.after(toggle(ctx, "tokensBy", [["kind", "By kind"], ["model", "By model"]], by));
  const table = card("Tokens by model", "tokens-table", true);
  root.append(summary.root, chart.root, table.root);
  const q = byModelQuery(ctx);
  const data = fetchQuery(ctx, q);
  const model = (r: Result) => String(r.model ?? "(none)");
  await Promise.all([
    load(summary, ctx, async () => {
      const buckets = await data;
      const t = { input: 0, cached: 0, output: 0 };
      for (const b of buckets) for (const r of b.results) {
        t.input += num(r.input_tokens);
        t.cached += num(r.input_cached_tokens);
        t.output += num(r.output_tokens);
      }
      summary.setState("ready");
      summary.body.replaceChildren(h("div", { class: "kpis" },
        kpi("input_tokens", "Input tokens", t.input, fmtCompact(t.input), "cached included"),
        kpi("input_cached_tokens", "Cached input tokens", t.cached, fmtCompact(t.cached),
          t.input ? `${((100 * t.cached) / t.input).toFixed(1)}% of input` : undefined),
        kpi("output_tokens", "Output tokens", t.output, fmtCompact(t.output)),
        kpi("total_tokens", "All tokens", t.input + t.output, fmtCompact(t.input + t.output))), ignoredNote(q));
    }),
    load(chart, ctx, async () => {
      const buckets = await data;
      if (!hasData(buckets)) return chart.setState("empty", emptyText("completions usage"));
      const series: Series[] = by === "model"
        ? stack(buckets, model, (r) => num(r.input_tokens) + num(r.output_tokens))
        : [
          { label: "Input (uncached)", data: stack(buckets, () => "x", (r) => num(r.input_tokens) - num(r.input_cached_tokens))[0].data },
          { label: "Cached input", data: stack(buckets, () => "x", (r) => num(r.input_cached_tokens))[0].data },
          { label: "Output", data: stack(buckets, () => "x", (r) => num(r.output_tokens))[0].data },
        ];
      const [box, canvas] = chartBox();
      chart.setState("ready");
      chart.body.replaceChildren(box);
      await barChart(canvas, labelsOf(buckets), series, fmtCompact);
    }),
    load(table, ctx, async () => {
      const buckets = await data;
      if (!hasData(buckets)) return table.setState("empty", emptyText("completions usage"));
      const rows: Row[] = [...totals(buckets, modelRow, TOKEN_FIELDS)].map(([m, t]) => ({ model: m, ...t }));
      table.setState("ready");
      table.body.replaceChildren(dataTable("tokens-by-model", [
        { key: "model", label: "Model", kind: "text" }, { key: "input_tokens", label: "Input", kind: "int" },
        { key: "input_cached_tokens", label: "Cached input", kind: "int" }, { key: "output_tokens", label: "Output", kind: "int" },
        { key: "num_model_requests", label: "Requests", kind: "int" },
      ], rows, "tokens-by-model.csv", "input_tokens", pickModel(ctx), NONE_WORDS.model));
    }),
  ]);
}

export async function requestsView(ctx: Ctx, root: HTMLElement): Promise<void> {
  const summary = card("Model requests", "requests-summary", true);
  const chart = card(`Requests per ${ctx.range.width === "1h" ? "hour" : "day"} by model`, "requests-chart", true);
  const table = card("Requests by model", "requests-table", true);
  root.append(summary.root, chart.root, table.root);
  const q = byModelQuery(ctx);
  const data = fetchQuery(ctx, q);
  const model = (r: Result) => String(r.model ?? "(none)");
  const reqs = (r: Result) => num(r.num_model_requests);
  await Promise.all([
    load(summary, ctx, async () => {
      const buckets = await data;
      const per = buckets.map((b) => b.results.reduce((a, r) => a + reqs(r), 0));
      const total = per.reduce((a, b) => a + b, 0);
      const peak = Math.max(0, ...per);
      const unit = ctx.range.width === "1h" ? "hour" : "day";
      summary.setState("ready");
      summary.body.replaceChildren(h("div", { class: "kpis" },
        kpi("num_model_requests", "Requests", total, fmtCompact(total), "completions, all models"),
        kpi("requests_avg", `Average per ${unit}`, per.length ? total / per.length : 0, fmtCompact(per.length ? total / per.length : 0)),
        kpi("requests_peak", `Busiest ${unit}`, peak, fmtCompact(peak))), ignoredNote(q));
    }),
    load(chart, ctx, async () => {
      const buckets = await data;
      if (!hasData(buckets)) return chart.setState("empty", emptyText("requests"));
      const [box, canvas] = chartBox();
      chart.setState("ready");
      chart.body.replaceChildren(box);
      await barChart(canvas, labelsOf(buckets), stack(buckets, model, reqs), fmtCompact);
    }),
    load(table, ctx, async () => {
      const buckets = await data;
      if (!hasData(buckets)) return table.setState("empty", emptyText("requests"));
      const rows: Row[] = [...totals(buckets, modelRow, TOKEN_FIELDS)].map(([m, t]) => ({
        model: m, num_model_requests: t.num_model_requests,
        tokens_per_request: t.num_model_requests ? Math.round((t.input_tokens + t.output_tokens) / t.num_model_requests) : 0,
      }));
      table.setState("ready");
      table.body.replaceChildren(dataTable("requests-by-model", [
        { key: "model", label: "Model", kind: "text" }, { key: "num_model_requests", label: "Requests", kind: "int" },
        { key: "tokens_per_request", label: "Tokens per request", kind: "int", sum: false },
      ], rows, "requests-by-model.csv", "num_model_requests", pickModel(ctx), NONE_WORDS.model));
    }),
  ]);
}

// -- every other usage type -----------------------------------------------------------------------

export async function usageView(ctx: Ctx, root: HTMLElement): Promise<void> {
  const grid = h("div", { class: "grid" });
  root.append(grid);
  const types = spec().filter((e) => e.name !== "completions" && e.name !== "costs");
  await Promise.all(types.map((ep) => {
    const c = card(titleOf(ep.name), `usage-${ep.name}`);
    grid.append(c.root);
    const q = query(ctx, ep.name);
    const primary = ep.metrics[0];
    const gauge = primary.agg === "gauge";
    return load(c, ctx, async () => {
      const buckets = await fetchQuery(ctx, q);
      const per = buckets.map((b) => b.results.reduce((a, r) => a + num(r[primary.name]), 0));
      // Storage is held, not consumed: its figure is the latest sample, not a sum.
      const last = [...buckets].reverse().find((b) => b.results.length);
      const value = gauge ? (last ? last.results.reduce((a, r) => a + num(r[primary.name]), 0) : 0) : per.reduce((a, b) => a + b, 0);
      const requests = ep.metrics.some((m) => m.name === "num_model_requests") && primary.name !== "num_model_requests"
        ? sumOf(buckets, (r) => num(r.num_model_requests)) : null;
      c.setState("ready");
      const head = kpi(ep.name, gauge ? "Held at the end of the range" : `Total ${metricWords(primary.name)}`, value,
        fmtMetric(primary.name, value, true), requests !== null ? `${fmtInt(requests)} model requests` : undefined);
      if (!hasData(buckets)) {
        c.body.replaceChildren(head, h("p", { class: "state state-empty", text: emptyText(titleOf(ep.name).toLowerCase()) }), ignoredNote(q));
        c.root.dataset.state = "empty";
        return;
      }
      const [box, canvas] = chartBox();
      box.classList.add("small");
      c.body.replaceChildren(head, box, ignoredNote(q));
      if (primary.name.endsWith("_bytes")) {
        const unit = byteUnit(Math.max(...per));
        await barChart(canvas, labelsOf(buckets), [{ label: metricWords(primary.name), data: per.map((n) => n / unit.size) }],
          (n) => `${fmtNum(Math.round(n * 100) / 100)} ${unit.name}`);
      } else await barChart(canvas, labelsOf(buckets), [{ label: metricWords(primary.name), data: per }], (n) => fmtMetric(primary.name, n, true));
    });
  }));
}

// -- breakdowns -----------------------------------------------------------------------------------

const BREAKDOWNS: [string, string, keyof Filters | null][] = [
  ["project_id", "Project", "project_id"], ["api_key_id", "Key", "api_key_id"], ["user_id", "User", null], ["model", "Model", "model"],
  ["origin", "Source", "origin"],  // where usage came from: ingest, proxy, otlp, openai, anthropic, ... (an extension)
];

export async function breakdownView(ctx: Ctx, root: HTMLElement): Promise<void> {
  const dim = BREAKDOWNS.find(([d]) => d === ctx.sub.breakdownBy) ?? BREAKDOWNS[0];
  const [field, word, filter] = dim;
  const c = card(`Usage and cost by ${word.toLowerCase()}`, "breakdown", true);
  c.root.querySelector("h2")!.after(toggle(ctx, "breakdownBy", BREAKDOWNS.map(([d, w]) => [d, w]), field));
  root.append(c.root);
  const usageQ = query(ctx, "completions", [field]);
  const costGroup = field === "model" ? "line_item" : field;
  const costQ = query(ctx, "costs", [costGroup]);
  const costKey = field === "model" ? (r: Result) => modelOf(String(r.line_item ?? "")) : (r: Result) => String(r[field] ?? "");
  await load(c, ctx, async () => {
    const [usage, costs] = await Promise.all([fetchQuery(ctx, usageQ), fetchQuery(ctx, costQ)]);
    const rows = new Map<string, Row>();
    for (const [id, t] of totals(usage, (r) => String(r[field] ?? ""), TOKEN_FIELDS)) rows.set(id, { [field]: id, ...t });
    for (const [id, t] of totals(costs, costKey, ["amount"])) {
      const row = rows.get(id) ?? { [field]: id };
      row.cost = t.amount;
      rows.set(id, row);
    }
    if (!rows.size) return c.setState("empty", emptyText("usage"));
    const columns: Column[] = [
      { key: field, label: word, kind: "text" }, { key: "num_model_requests", label: "Requests", kind: "int" },
      { key: "input_tokens", label: "Input tokens", kind: "int" }, { key: "input_cached_tokens", label: "Cached input", kind: "int" },
      { key: "output_tokens", label: "Output tokens", kind: "int" }, { key: "cost", label: "Cost (USD)", kind: "usd" },
    ];
    const anyCost = hasData(costs);
    c.setState("ready");
    c.body.replaceChildren(
      dataTable(`breakdown-${field}`, columns, [...rows.values()], `usage-by-${field}.csv`, anyCost ? "cost" : "num_model_requests",
        filter ? (r) => { if (r[field]) ctx.pick(filter, String(r[field])); } : undefined, NONE_WORDS[field]),
      h("p", { class: "note muted", text: "Requests and tokens count completions; cost covers every usage type."
        + (anyCost ? "" : " No costs are recorded for this range.") + (filter ? " Click a row to filter by it." : "") }),
      ignoredNote(usageQ), unpricedNote(ctx, [costQ]));
  });
}

export const VIEWS: Record<Tab, (ctx: Ctx, root: HTMLElement) => Promise<void>> = {
  costs: costsView, tokens: tokensView, requests: requestsView, usage: usageView, breakdown: breakdownView,
};
