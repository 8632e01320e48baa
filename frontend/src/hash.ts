// The dashboard's state as its URL's hash holds it (`#tab=costs&range=30d&project=…`), read by the
// app and, before it, by the page's first script (boot.ts) to send the first view's requests.

import type { Filters } from "./query";
import { customRange, presetRange, type Range } from "./range";

export const TABS = ["costs", "tokens", "requests", "usage", "breakdown"] as const;
export type Tab = (typeof TABS)[number];
const SUBS = ["costsBy", "tokensBy", "breakdownBy"];

export interface State { tab: Tab; range: string; from: string; to: string; filters: Filters; sub: Record<string, string> }

/** The state a hash names; anything missing or unknown takes its default (Costs, last 30 days). */
export function parseHash(hash: string): State {
  const p = new URLSearchParams(hash.replace(/^#/, ""));
  const tab = TABS.find((t) => t === p.get("tab")) ?? "costs";
  const sub: Record<string, string> = {};
  for (const k of SUBS) if (p.get(k)) sub[k] = p.get(k)!;
  return {
    tab,
    range: p.get("range") ?? "30d",
    from: p.get("from") ?? "",
    to: p.get("to") ?? "",
    filters: { project_id: p.get("project") ?? "", model: p.get("model") ?? "", api_key_id: p.get("key") ?? "",
      origin: p.get("source") ?? "" },
    sub,
  };
}

/** The state's range at `now` (Unix seconds); a custom range whose days do not parse is null. */
export function stateRange(state: State, now: number): Range | null {
  if (state.range === "custom") return customRange(state.from, state.to);
  return presetRange(state.range, now);
}
