// Charts through Chart.js, loaded as a chunk of its own (chartlib.ts) so that the app's requests
// do not wait for the browser to compile it.

import type { Chart } from "chart.js";

let lib: Promise<typeof import("./chartlib")> | null = null;

/** Chart.js, fetched and compiled once; asked for when the app starts, awaited when a chart is drawn. */
export function loadCharts(): Promise<typeof import("./chartlib")> {
  lib ??= import("./chartlib");
  return lib;
}

const PALETTE = ["#10a37f", "#5b8def", "#f2a93b", "#e5646e", "#9b6ef3", "#2bb5c9", "#d46fb5", "#8fb339", "#c78b52",
  "#7a8796"];

const OTHER = "#9aa3ad";

export interface Series { label: string; data: number[] }

const live = new Set<Chart>();

export function destroyCharts(): void {
  for (const c of live) c.destroy();
  live.clear();
}

/** What each drawn chart shows: its card, canvas height and y-axis ticks (the tests read it). */
export interface ChartFacts { card: string; height: number; plot: number; ticks: { value: number; label: string }[] }

export function chartFacts(): ChartFacts[] {
  return [...live].map((c) => ({
    card: c.canvas.closest<HTMLElement>("[data-card]")?.dataset.card ?? "",
    height: c.canvas.getBoundingClientRect().height,
    plot: c.chartArea.height,
    ticks: c.scales.y.ticks.map((t) => ({ value: t.value, label: String(t.label) })),
  }));
}

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

/**
 * A bar chart, stacked when there are several series; series beyond `top` (by total) are summed
 * into "Other" so the legend stays readable.  On a phone fewer series are named, so the legend
 * leaves the bars most of the height.
 */
export async function barChart(canvas: HTMLCanvasElement, labels: string[], series: Series[],
  format: (n: number) => string, top = 9): Promise<void> {
  const { Chart } = await loadCharts();
  if (!canvas.isConnected) return;  // the view was left while Chart.js loaded
  if ((canvas.parentElement?.clientWidth ?? 1000) < 500) top = Math.min(top, 5);
  let shown = series;
  if (series.length > top + 1) {
    const total = (s: Series) => s.data.reduce((a, b) => a + b, 0);
    const sorted = [...series].sort((a, b) => total(b) - total(a));
    const rest = sorted.slice(top);
    shown = [...sorted.slice(0, top), { label: `Other (${rest.length})`, data: labels.map((_, i) => rest.reduce((a, s) => a + s.data[i], 0)) }];
  }
  const text = cssVar("--muted");
  const grid = cssVar("--grid");
  const chart = new Chart(canvas, {
    type: "bar",
    data: {
      labels,
      datasets: shown.map((s, i) => ({
        label: s.label, data: s.data, borderWidth: 0, maxBarThickness: 48,
        backgroundColor: i === top && shown !== series ? OTHER : PALETTE[i % PALETTE.length],
      })),
    },
    options: {
      responsive: true,
      maintainAspectRatio: false,
      animation: false,
      interaction: { mode: "index", intersect: false },
      scales: {
        x: { stacked: true, ticks: { color: text, maxRotation: 0, autoSkipPadding: 12 }, grid: { display: false } },
        y: { stacked: true, beginAtZero: true, ticks: { color: text, callback: (v) => format(Number(v)) }, grid: { color: grid } },
      },
      plugins: {
        legend: { display: shown.length > 1, position: "bottom", labels: { color: text, boxWidth: 12, boxHeight: 12 } },
        tooltip: { callbacks: { label: (c) => `${c.dataset.label}: ${format(Number(c.raw))}` } },
      },
    },
  });
  live.add(chart);
}
