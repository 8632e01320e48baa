// The server's public Usage & Costs API, as the dashboard uses it: Bearer key, pages followed,
// answers cached briefly, a few requests at a time, and every failure turned into words.

export interface Result { [field: string]: unknown }
export interface Bucket { start_time: number; end_time: number; results: Result[] }
interface Page { data: Bucket[]; has_more: boolean; next_page: string | null; unpriced?: string[] }

/** Costs answers name the models whose usage had no price (left out of the amounts). */
const UNPRICED_HEADER = "openusage-unpriced-models";

export type Params = [string, string][];

/** Where the signed-in key is kept: the tab's sessionStorage, never the URL. */
export const KEY_STORE = "openusage.key";

export class ApiError extends Error {
  constructor(readonly status: number, message: string, readonly code: string | null = null) {
    super(message);
  }
}

/** What a failed answer means, in words a person can act on. */
export function describe(status: number, serverMessage: string | null, path = ""): string {
  if (status === 0) return "Could not reach the server. Check that it is running, then press Refresh.";
  if (status === 401) return "This key was not accepted. Check it and sign in again.";
  if (status === 403) return "This key may not read usage and costs" + (serverMessage ? `: ${serverMessage}` : ".");
  if (status === 404) return `This server does not answer ${path || "that address"}; is it an openusage server?`;
  if (status === 429) return "The server is limiting this key's request rate. Wait a moment, then press Refresh.";
  if (status === 400) return `The server rejected the query: ${serverMessage || "bad request"}`;
  if (status >= 500) return `The server had an error (HTTP ${status}). Try again later.`;
  return `Unexpected answer from the server (HTTP ${status})` + (serverMessage ? `: ${serverMessage}` : ".");
}

const WIDTH_SECONDS: Record<string, number> = { "1m": 60, "1h": 3600, "1d": 86400 };

/**
 * A query's range cut into parts of at most `limit` buckets, cut at bucket edges so that the parts'
 * buckets, put together, are the whole range's (the first bucket runs from the start to the next
 * edge, as the API clips it).
 */
export function pageParts(params: Params): Params[] {
  const get = (k: string) => params.find(([name]) => name === k)?.[1];
  const start = Number(get("start_time"));
  const end = Number(get("end_time"));
  const width = WIDTH_SECONDS[get("bucket_width") ?? ""];
  const limit = Number(get("limit"));
  if (!(start < end) || !width || !(limit > 0)) return [params];
  const with_ = (a: number, b: number): Params => params.map(([k, v]) =>
    [k, k === "start_time" ? String(a) : k === "end_time" ? String(b) : v]);
  const parts: Params[] = [];
  for (let a = start, b = Math.floor(start / width) * width + limit * width; a < end; a = b, b += limit * width) {
    parts.push(with_(a, Math.min(b, end)));
  }
  return parts.length > 1 ? parts : [params];
}

/** A request's URL, as sent and as cached: the path and its parameters in order. */
export const urlOf = (path: string, params: Params): string => path + "?" + new URLSearchParams(params).toString();

/**
 * Answers asked for by the page's first script (boot.ts) before the app's script has loaded, by
 * URL, each taken once by the first {@link Api.get} of that URL with the same key.
 */
interface SentEarly { key: string; answers: Map<string, Promise<Response>> }

declare global {
  interface Window { openusageEarly?: SentEarly }
}

const fetchOnce = (key: string, url: string): Promise<Response> =>
  fetch(url, { headers: { Authorization: `Bearer ${key}` }, cache: "no-store" });

/**
 * Sends a query's requests now (every page-sized part, as {@link Api.buckets} would cut it), for
 * the app to take when it asks the same question.
 */
export function sendEarly(key: string, path: string, params: Params): void {
  const early = (window.openusageEarly ??= { key, answers: new Map() });
  if (early.key !== key) return;
  for (const part of pageParts(params)) {
    const url = urlOf(path, part);
    if (early.answers.has(url)) continue;
    const answer = fetchOnce(key, url);
    answer.catch(() => undefined);  // a failure is told by the app when it takes the answer, if it does
    early.answers.set(url, answer);
  }
}

/** The answer sent early for `url` with this key, if any; taken, so it is used once. */
function takeEarly(key: string, url: string): Promise<Response> | undefined {
  const early = window.openusageEarly;
  if (!early || early.key !== key) return undefined;
  const answer = early.answers.get(url);
  early.answers.delete(url);
  return answer;
}

const CACHE_MS = 60_000;
const PARALLEL = 4;
/** 429s are retried while the waits so far stay within this many seconds (each wait is the answer's
 * `retry-after`, at most ten seconds, plus up to a quarter second at random so that cards limited
 * together do not all come back in the same instant). */
const RETRY_BUDGET_S = 30;

export class Api {
  private cache = new Map<string, { at: number; value: Promise<Bucket[]>; wanted: (() => boolean)[]; unpriced: Set<string> }>();
  private running = 0;
  private waiting: (() => void)[] = [];
  /** Requests sent since sign-in (the tests and the docs read it to show nothing is fetched twice). */
  sent: string[] = [];

  constructor(private readonly key: string, private readonly onUnauthorized: (message: string) => void) {}

  clear(): void {
    this.cache.clear();
  }

  private async slot<T>(fn: () => Promise<T>): Promise<T> {
    while (this.running >= PARALLEL) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    try {
      return await fn();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }

  /**
   * One GET; 429s are retried after `retry-after` (bounded), other failures raise ApiError.  A
   * request still queued when `stale()` turns true is never sent.
   */
  async get(path: string, params: Params, stale: () => boolean = () => false): Promise<Page> {
    const url = urlOf(path, params);
    let waited = 0;
    for (let attempt = 0; ; attempt++) {
      const early = attempt === 0 ? takeEarly(this.key, url) : undefined;
      const send = async (): Promise<Response> => {
        this.sent.push(url);
        try {
          return await (early ?? fetchOnce(this.key, url));
        } catch {
          throw new ApiError(0, describe(0, null));
        }
      };
      // An answer already on its way takes no slot: it was sent before the app ran.
      const res = early ? await send() : await this.slot(async () => {
        if (stale()) throw new ApiError(-1, "superseded");
        return send();
      });
      if (res.ok) {
        const page = (await res.json()) as Page;
        page.unpriced = (res.headers.get(UNPRICED_HEADER) ?? "").split(",").filter(Boolean);
        return page;
      }
      let message: string | null = null;
      let code: string | null = null;
      try {
        const body = await res.json();
        message = body?.error?.message ?? null;
        code = body?.error?.code ?? null;
      } catch {
        /* not JSON: keep the status alone */
      }
      if (res.status === 429) {
        const wait = Math.min(10, Number(res.headers.get("retry-after")) || 1) + Math.random() / 4;
        if (waited + wait <= RETRY_BUDGET_S) {
          waited += wait;
          await new Promise((r) => setTimeout(r, wait * 1000));
          continue;
        }
      }
      const err = new ApiError(res.status, describe(res.status, message, path), code);
      if (res.status === 401) this.onUnauthorized(err.message);
      throw err;
    }
  }

  /**
   * Every bucket of a query.  A range longer than one page is cut at bucket edges into page-sized
   * parts asked for at once (the API's cursor would fetch them one after the other); each part
   * still follows `next_page` should the server page it.  Before each request the views waiting
   * for the answer are asked whether they are still shown: once all of them are gone (`stale()`),
   * nothing more is sent.  Views asking the same question share one answer.
   */
  buckets(path: string, params: Params, stale: () => boolean = () => false): Promise<Bucket[]> {
    const id = urlOf(path, params);
    const hit = this.cache.get(id);
    if (hit && Date.now() - hit.at < CACHE_MS) {
      hit.wanted.push(stale);
      return hit.value;
    }
    const wanted = [stale];
    const unpriced = new Set<string>();
    const gone = () => wanted.every((s) => s());
    const part = async (partParams: Params): Promise<Bucket[]> => {
      const out: Bucket[] = [];
      let page: string | null = null;
      for (let i = 0; i < 1000; i++) {
        const p: Page = await this.get(path, page ? [...partParams, ["page", page]] : partParams, gone);
        out.push(...p.data);
        for (const name of p.unpriced ?? []) unpriced.add(name);
        if (!p.has_more || !p.next_page) return out;
        if (gone()) throw new ApiError(-1, "superseded");
        page = p.next_page;
      }
      throw new Error("The answer ran to more than 1,000 pages; pick a shorter range.");
    };
    const value = Promise.all(pageParts(params).map(part)).then((parts) => parts.flat());
    this.cache.set(id, { at: Date.now(), value, wanted, unpriced });
    value.catch(() => this.cache.delete(id));
    return value;
  }

  /** The models a fetched costs query could not price (its `openusage-unpriced-models` headers). */
  unpriced(path: string, params: Params): string[] {
    const hit = this.cache.get(urlOf(path, params));
    return hit ? [...hit.unpriced].sort() : [];
  }
}
