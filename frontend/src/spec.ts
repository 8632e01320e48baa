// The endpoint table, as the server derives it from openusage.spec and inserts it into the page.

export interface SpecFilter { param: string; dimension: string; kind: string }
export interface SpecMetric { name: string; agg: string }
export interface SpecEndpoint {
  name: string;
  path: string;
  filters: SpecFilter[];
  group_by: string[];
  metrics: SpecMetric[];
  limits: Record<string, [number, number]>;
}

let endpoints: SpecEndpoint[] | null = null;

export function spec(): SpecEndpoint[] {
  if (endpoints === null) {
    const node = document.getElementById("openusage-spec");
    endpoints = node ? (JSON.parse(node.textContent || "{}").endpoints as SpecEndpoint[]) : [];
  }
  return endpoints;
}

export function endpoint(name: string): SpecEndpoint {
  const ep = spec().find((e) => e.name === name);
  if (!ep) throw new Error(`the server has no ${name} endpoint`);
  return ep;
}

/** The largest page this endpoint allows for a bucket width: fewest round trips. */
export function maxLimit(ep: SpecEndpoint, width: string): number {
  const l = ep.limits[width];
  return l ? l[1] : 7;
}

/** The endpoint's query parameter filtering on a dimension, if it has one. */
export function filterParam(ep: SpecEndpoint, dimension: string): string | null {
  const f = ep.filters.find((x) => x.dimension === dimension && x.kind === "list");
  return f ? f.param : null;
}
