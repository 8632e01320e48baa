// The page's first script, inlined into the page (build.mjs) and run as it is parsed: it sends
// the first view's API requests (Costs, Tokens, Requests: query.ts, firstQueries) before the app's
// module and Chart.js are fetched and compiled.  The app takes these answers when it asks the same
// questions (api.ts, takeEarly); anything this script cannot do (no key yet, another view) is left
// to the app, which then asks as usual.

import { KEY_STORE, sendEarly } from "./api";
import { parseHash, stateRange } from "./hash";
import { firstQueries } from "./query";

try {
  const key = sessionStorage.getItem(KEY_STORE);
  const state = parseHash(location.hash);
  const now = Math.floor(Date.now() / 1000);
  const range = stateRange(state, now);
  if (key && range) {
    for (const q of firstQueries(state.tab, { range, filters: state.filters, now })) sendEarly(key, q.path, q.params);
  }
  performance.mark("openusage:boot");  // when this script ran (the benchmark prints it)
} catch {
  // Never in the app's way: it asks for everything it does not find sent.
}
