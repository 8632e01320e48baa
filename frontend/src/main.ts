// The dashboard's shell: sign-in, the range picker, filters, tabs and theme; the state lives in
// the URL's hash (never the key, which stays in sessionStorage).

import { Api, ApiError, KEY_STORE } from "./api";
import { chartFacts, destroyCharts, loadCharts, type ChartFacts } from "./charts";
import { $, h } from "./dom";
import { rangeWords } from "./format";
import { parseHash, stateRange, type State } from "./hash";
import { query, type Filters } from "./query";
import { customRange, dayText, DAY, type Range } from "./range";
import { endpoint } from "./spec";
import { fetchQuery, VIEWS, type Ctx } from "./views";

const THEME_STORE = "openusage.theme";

const state: State = parseHash("");
let api: Api | null = null;
let generation = 0;

declare global {
  interface Window {
    openusage: {
      /** performance.now() when the first view was drawn (every card that needs no costs answer). */
      firstViewAt: number | null;
      /** performance.now() when the first view was drawn whole (costs included). */
      readyAt: number | null;
      renders: number; api: () => Api | null; charts: () => ChartFacts[];
    };
  }
}
window.openusage = { firstViewAt: null, readyAt: null, renders: 0, api: () => api, charts: chartFacts };

const now = (): number => Math.floor(Date.now() / 1000);

function readHash(): void {
  Object.assign(state, parseHash(location.hash));
}

function writeHash(): void {
  const p = new URLSearchParams({ tab: state.tab, range: state.range });
  if (state.range === "custom") { p.set("from", state.from); p.set("to", state.to); }
  if (state.filters.project_id) p.set("project", state.filters.project_id);
  if (state.filters.model) p.set("model", state.filters.model);
  if (state.filters.api_key_id) p.set("key", state.filters.api_key_id);
  if (state.filters.origin) p.set("source", state.filters.origin);
  for (const [k, v] of Object.entries(state.sub)) p.set(k, v);
  history.replaceState(null, "", `#${p.toString()}`);
}

function currentRange(): Range {
  const r = stateRange(state, now());
  if (r) return r;
  state.range = "30d";  // a custom range whose days do not parse
  return stateRange(state, now())!;
}

// -- theme ------------------------------------------------------------------------------------------

function theme(): "light" | "dark" {
  const stored = localStorage.getItem(THEME_STORE);
  if (stored === "light" || stored === "dark") return stored;
  return matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

function applyTheme(): void {
  const t = theme();
  document.documentElement.dataset.theme = t;
  $("#theme").textContent = t === "dark" ? "Light" : "Dark";
  $("#theme").setAttribute("aria-label", `Switch to the ${t === "dark" ? "light" : "dark"} theme`);
}

// -- filters ----------------------------------------------------------------------------------------

/** A filter's choices, fetched when the user reaches for it (never on page load). */
async function loadOptions(select: HTMLSelectElement): Promise<void> {
  const dim = select.dataset.dim as keyof Filters;
  const range = currentRange();
  const tag = `${range.start}-${range.end}`;
  if (!api || select.dataset.loaded === tag) return;
  select.dataset.loaded = tag;
  const loading = h("option", { disabled: true, text: "Loading…" });
  select.append(loading);
  const ctx = { ...baseCtx(() => false), filters: { project_id: "", model: "", api_key_id: "", origin: "" } } as Ctx;
  try {
    const q = query(ctx, "completions", [dim], { start: range.start, end: range.end, width: "1d" });
    const buckets = await fetchQuery(ctx, q);
    const values = new Set<string>();
    for (const b of buckets) for (const r of b.results) if (r[dim]) values.add(String(r[dim]));
    fillOptions(select, [...values]);
    select.dataset.options = "ready";
  } catch (e) {
    select.dataset.loaded = "";
    loading.textContent = e instanceof Error ? e.message : "Could not load the choices";
  }
}

function fillOptions(select: HTMLSelectElement, values: string[]): void {
  const dim = select.dataset.dim as keyof Filters;
  const current = state.filters[dim];
  if (current && !values.includes(current)) values.push(current);
  const first = select.options[0];
  select.replaceChildren(first, ...values.sort().map((v) => h("option", { value: v, text: v })));
  select.value = current;
}

function syncControls(): void {
  const range = $<HTMLSelectElement>("#range");
  range.value = state.range;
  const custom = state.range === "custom";
  $("#custom").hidden = !custom;
  if (custom) {
    $<HTMLInputElement>("#from").value = state.from;
    $<HTMLInputElement>("#to").value = state.to;
  }
  for (const sel of document.querySelectorAll<HTMLSelectElement>("select[data-dim]")) {
    const dim = sel.dataset.dim as keyof Filters;
    if (![...sel.options].some((o) => o.value === state.filters[dim])) fillOptions(sel, [...sel.options].slice(1).map((o) => o.value).filter(Boolean));
    sel.value = state.filters[dim];
  }
  for (const b of document.querySelectorAll<HTMLButtonElement>("[data-tab]")) {
    b.setAttribute("aria-selected", String(b.dataset.tab === state.tab));
  }
}

// -- rendering --------------------------------------------------------------------------------------

function baseCtx(stale: () => boolean, early: Ctx["early"] = (p) => p): Ctx {
  return {
    api: api!, range: currentRange(), now: now(), filters: { ...state.filters }, sub: { ...state.sub }, stale, early,
    pick: (dim, value) => { state.filters[dim] = value; writeHash(); syncControls(); void render(); },
    setSub: (key, value) => { state.sub[key] = value; writeHash(); void render(); },
  };
}

async function render(): Promise<void> {
  if (!api) return;
  const gen = ++generation;
  destroyCharts();
  syncControls();
  const view = $("#view");
  view.dataset.ready = "0";
  view.dataset.view = state.tab;
  view.dataset.first = "0";
  view.replaceChildren();
  const early: Promise<void>[] = [];
  const ctx = baseCtx(() => gen !== generation, (p) => { early.push(p); return p; });
  const label = $("#range-label");
  label.textContent = `${rangeWords(ctx.range.start, ctx.range.end)} · ${ctx.range.width === "1h" ? "hourly" : "daily"} buckets`;
  label.dataset.start = String(ctx.range.start);
  label.dataset.end = String(ctx.range.end);
  label.dataset.width = ctx.range.width;
  const drawn = VIEWS[state.tab](ctx, view);
  // The cards a view marks early are all marked before its first await: their answers decide when
  // the first view is drawn.
  if (early.length) void Promise.all(early).then(() => firstViewDrawn(gen));
  try {
    await drawn;
  } catch (e) {
    if (gen === generation) view.replaceChildren(h("p", { class: "state state-error", role: "alert", text: String(e) }));
  }
  if (gen !== generation) return;
  firstViewDrawn(gen);
  view.dataset.ready = "1";
  window.openusage.renders++;
  if (window.openusage.readyAt === null) window.openusage.readyAt = performance.now();
}

/**
 * The view's first view is drawn: `#view[data-first]` says so for each render, and the page's first
 * one is marked on `<body data-ready="1">` with its time (the benchmark and tests read both).
 */
function firstViewDrawn(gen: number): void {
  const view = $("#view");
  if (gen !== generation || view.dataset.first === "1") return;
  view.dataset.first = "1";
  if (window.openusage.firstViewAt !== null) return;
  window.openusage.firstViewAt = performance.now();
  document.body.dataset.ready = "1";
}

// -- sign-in ----------------------------------------------------------------------------------------

function showSignIn(message?: string): void {
  api = null;
  generation++;
  destroyCharts();
  sessionStorage.removeItem(KEY_STORE);
  $("#app").hidden = true;
  $("#signin").hidden = false;
  const err = $("#signin-error");
  err.hidden = !message;
  err.textContent = message ?? "";
  $<HTMLInputElement>("#key").focus();
}

function showApp(key: string): void {
  api = new Api(key, (message) => showSignIn(message));
  $("#signin").hidden = true;
  $("#app").hidden = false;
  void render();
}

async function signIn(event: Event): Promise<void> {
  event.preventDefault();
  const input = $<HTMLInputElement>("#key");
  const button = $<HTMLButtonElement>("#signin-submit");
  const err = $("#signin-error");
  const key = input.value.trim();
  if (!key) {
    err.hidden = false;
    err.textContent = "Enter a key.";
    return;
  }
  button.disabled = true;
  button.textContent = "Checking…";
  err.hidden = true;
  // The smallest real question: one minute of completions.  It proves the key may read usage.
  const probe = new Api(key, () => undefined);
  try {
    await probe.get(endpoint("completions").path, [["start_time", String(now() - 60)], ["bucket_width", "1m"], ["limit", "1"]]);
    sessionStorage.setItem(KEY_STORE, key);
    input.value = "";
    showApp(key);
  } catch (e) {
    err.hidden = false;
    err.textContent = e instanceof ApiError ? e.message : String(e);
  } finally {
    button.disabled = false;
    button.textContent = "Sign in";
  }
}

// -- wiring -----------------------------------------------------------------------------------------

function start(): void {
  void loadCharts();  // fetched and compiled while the first view's requests are on their way
  readHash();
  applyTheme();
  matchMedia("(prefers-color-scheme: dark)").addEventListener("change", () => { applyTheme(); void render(); });
  $("#signin-form").addEventListener("submit", (e) => void signIn(e));
  $("#signout").addEventListener("click", () => showSignIn());
  $("#refresh").addEventListener("click", () => { api?.clear(); void render(); });
  $("#theme").addEventListener("click", () => {
    localStorage.setItem(THEME_STORE, theme() === "dark" ? "light" : "dark");
    applyTheme();
    void render();
  });
  for (const b of document.querySelectorAll<HTMLButtonElement>("[data-tab]")) {
    b.addEventListener("click", () => { state.tab = parseHash(`tab=${b.dataset.tab}`).tab; writeHash(); void render(); });
  }
  $<HTMLSelectElement>("#range").addEventListener("change", (e) => {
    const value = (e.target as HTMLSelectElement).value;
    if (value === "custom") {
      const r = currentRange();
      state.from = state.from || dayText(r.start);
      state.to = state.to || dayText(r.end - DAY);
      $("#custom").hidden = false;
      $<HTMLInputElement>("#from").value = state.from;
      $<HTMLInputElement>("#to").value = state.to;
      return;
    }
    state.range = value;
    writeHash();
    void render();
  });
  $("#custom-apply").addEventListener("click", () => {
    const from = $<HTMLInputElement>("#from").value;
    const to = $<HTMLInputElement>("#to").value;
    if (!customRange(from, to)) {
      $("#range-label").textContent = "Pick a start day on or before the end day.";
      return;
    }
    Object.assign(state, { range: "custom", from, to });
    writeHash();
    void render();
  });
  for (const sel of document.querySelectorAll<HTMLSelectElement>("select[data-dim]")) {
    const reach = () => void loadOptions(sel);
    sel.addEventListener("focus", reach);
    sel.addEventListener("pointerdown", reach);
    sel.addEventListener("change", () => {
      state.filters[sel.dataset.dim as keyof Filters] = sel.value;
      writeHash();
      void render();
    });
  }
  window.addEventListener("hashchange", () => { readHash(); void render(); });
  const key = sessionStorage.getItem(KEY_STORE);
  if (key) showApp(key);
  else showSignIn();
}

start();
