// A few DOM helpers: elements built with textContent only (no HTML strings, no injection).

type Attrs = Record<string, string | number | boolean | undefined>;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K, attrs: Attrs = {}, ...children: (Node | string | null | undefined)[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (k === "class") el.className = String(v);
    else if (k === "text") el.textContent = String(v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children) if (c !== null && c !== undefined) el.append(c);
  return el;
}

export const $ = <T extends HTMLElement = HTMLElement>(sel: string, root: ParentNode = document): T =>
  root.querySelector(sel) as T;

/** A card whose body shows loading, empty, error or content; `data-state` tells the tests which. */
export interface Card { root: HTMLElement; body: HTMLElement; setState(state: "loading" | "empty" | "error" | "ready", text?: string): void }

export function card(title: string, id: string, wide = false): Card {
  const body = h("div", { class: "card-body" });
  const root = h("section", { class: wide ? "card wide" : "card", "data-card": id }, h("h2", { text: title }), body);
  const setState: Card["setState"] = (state, text) => {
    root.dataset.state = state;
    if (state === "ready") return;
    body.replaceChildren(h("p", {
      class: `state state-${state}`, role: state === "error" ? "alert" : undefined,
      text: text ?? (state === "loading" ? "Loading…" : ""),
    }));
  };
  setState("loading");
  return { root, body, setState };
}

export function kpi(id: string, label: string, value: number, shown: string, note?: string): HTMLElement {
  return h("div", { class: "kpi", "data-kpi": id, "data-value": String(value) },
    h("div", { class: "kpi-label", text: label }),
    h("div", { class: "kpi-value", text: shown, title: String(value) }),
    note ? h("div", { class: "kpi-note muted", text: note }) : null);
}
