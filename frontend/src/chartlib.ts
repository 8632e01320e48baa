// Chart.js, registered piecemeal (bar and line charts only).  A chunk of its own, imported when
// the app starts: the app's own code runs, and sends the first view's requests, while the
// browser is still compiling this, the bulk of the bundle.

import {
  BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, LineController, LineElement, PointElement,
  Tooltip,
} from "chart.js";

Chart.register(BarController, BarElement, CategoryScale, LinearScale, LineController, LineElement, PointElement,
  Tooltip, Legend);

export { Chart };
