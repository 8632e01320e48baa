// Tables that sort on a header click and export exactly their rows to CSV.

import { h } from "./dom";
import { fmtInt, fmtNum, fmtUsd } from "./format";

export interface Column { key: string; label: string; kind: "text" | "int" | "num" | "usd"; sum?: false }
export type Row = Record<string, string | number>;

function cell(col: Column, v: string | number | undefined): string {
  if (v === undefined || v === null || v === "") return col.kind === "text" ? "(none)" : "—";
  if (col.kind === "int") return fmtInt(Number(v));
  if (col.kind === "usd") return fmtUsd(Number(v));
  if (col.kind === "num") return fmtNum(Number(v));
  return String(v);
}

/**
 * One CSV cell.  Numbers are written bare so spreadsheets read them as numbers; every other cell
 * is quoted, and text a spreadsheet would run as a formula (starting with =, +, -, @, tab or
 * carriage return: OWASP's CSV injection rule) gets a leading single quote.  Names come from
 * whoever sends usage (ingest keys, proxy clients), so a user called "=HYPERLINK(…)" is text.
 */
export function csvCell(v: unknown): string {
  if (typeof v === "number" && Number.isFinite(v)) return String(v);
  let s = v === undefined || v === null ? "" : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s;
  return `"${s.replace(/"/g, '""')}"`;
}

export function csvText(columns: Column[], rows: Row[]): string {
  const lines = [columns.map((c) => csvCell(c.key)).join(",")];
  for (const r of rows) lines.push(columns.map((c) => csvCell(r[c.key])).join(","));
  return lines.join("\r\n") + "\r\n";
}

function download(name: string, text: string): void {
  const url = URL.createObjectURL(new Blob([text], { type: "text/csv;charset=utf-8" }));
  const a = h("a", { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/**
 * A sortable table with a totals row and an "Export CSV" button.  `onPick`, when given, makes
 * rows clickable (the breakdown uses it to filter by the row's project, model or key).  `none`
 * says what a row without a name ("(none)") holds: a tooltip on the cell and a note below.
 */
export function dataTable(id: string, columns: Column[], rows: Row[], csvName: string,
  sortKey: string, onPick?: (row: Row) => void, none?: string): HTMLElement {
  let key = sortKey;
  let desc = columns.find((c) => c.key === key)?.kind !== "text";
  const tbody = h("tbody");
  const heads = columns.map((c) => h("th", { scope: "col", "data-key": c.key, class: c.kind === "text" ? "" : "num" },
    h("button", { type: "button", text: c.label })));
  const totals = h("tr", { class: "totals" }, ...columns.map((c, i) => {
    if (i === 0) return h("th", { scope: "row", text: "Total" });
    if (c.kind === "text" || c.kind === "num" || c.sum === false) return h("td");
    if (!rows.some((r) => r[c.key] !== undefined && r[c.key] !== "")) return h("td", { class: "num", text: "—" });
    return h("td", { class: "num", text: cell(c, rows.reduce((a, r) => a + (Number(r[c.key]) || 0), 0)) });
  }));
  const draw = () => {
    const col = columns.find((c) => c.key === key)!;
    const sorted = [...rows].sort((a, b) => {
      const x = a[key] ?? "";
      const y = b[key] ?? "";
      const d = col.kind === "text" ? String(x).localeCompare(String(y)) : (Number(x) || 0) - (Number(y) || 0);
      return desc ? -d : d;
    });
    heads.forEach((th) => th.setAttribute("aria-sort", th.dataset.key === key ? (desc ? "descending" : "ascending") : "none"));
    tbody.replaceChildren(...sorted.map((r) => {
      const tr = h("tr", {}, ...columns.map((c) => none && c.kind === "text" && !r[c.key]
        ? h("td", { class: "none" }, h("span", { title: none, text: cell(c, r[c.key]) }))
        : h("td", { class: c.kind === "text" ? "" : "num", text: cell(c, r[c.key]) })));
      if (onPick) {
        tr.classList.add("pick");
        tr.title = "Filter by this";
        tr.addEventListener("click", () => onPick(r));
      }
      return tr;
    }));
  };
  heads.forEach((th) => th.querySelector("button")!.addEventListener("click", () => {
    if (th.dataset.key === key) desc = !desc;
    else {
      key = th.dataset.key!;
      desc = columns.find((c) => c.key === key)!.kind !== "text";
    }
    draw();
  }));
  draw();
  const exportBtn = h("button", { type: "button", class: "export", "data-export": id, text: "Export CSV" });
  exportBtn.addEventListener("click", () => download(csvName, csvText(columns, rows)));
  const unnamed = none && rows.some((r) => !r[columns[0].key]);
  return h("div", { class: "table-wrap" },
    h("div", { class: "table-tools" }, h("span", { class: "muted small", text: `${rows.length} ${rows.length === 1 ? "row" : "rows"}` }), exportBtn),
    h("div", { class: "table-scroll" },
      h("table", { "data-table": id }, h("thead", {}, h("tr", {}, ...heads)), tbody, h("tfoot", {}, totals))),
    unnamed ? h("p", { class: "note muted", "data-none-note": id, text: `(none): ${none}.` }) : null);
}
