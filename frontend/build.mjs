// Bundles the dashboard into dist/: hashed JS chunks and CSS (cached forever by the server) and an
// index.html that names them (the Chart.js chunk preloaded beside the app's) and holds the first script.
// The Python side inserts the endpoint table at <!--openusage:spec-->.
import { build } from "esbuild";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync, rmSync, mkdirSync, writeFileSync, copyFileSync } from "node:fs";
import { basename } from "node:path";

// A digest of every input, kept beside the bundle: a test recomputes it to catch a stale build.
const inputs = ["build.mjs", "package.json", "package-lock.json", "tsconfig.json",
  ...readdirSync("src").map((f) => `src/${f}`)].sort();
const digest = createHash("sha256");
for (const f of inputs) digest.update(f).update("\0").update(readFileSync(f)).update("\0");

rmSync("dist", { recursive: true, force: true });
mkdirSync("dist");
const result = await build({
  entryPoints: ["src/main.ts", "src/style.css"],
  bundle: true,
  minify: true,
  // ES modules, split: Chart.js (chartlib.ts, imported at start) is a chunk of its own, so the
  // app's code is compiled and running, its requests sent, before the browser has compiled it.
  format: "esm",
  splitting: true,
  chunkNames: "[name]-[hash]",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  entryNames: "[name]-[hash]",
  outdir: "dist",
  metafile: true,
  legalComments: "linked",
  logLevel: "warning",
});
// The page's first script (boot.ts), inlined into the page: it runs as the page is parsed, with no
// request of its own, and sends the first view's requests before any script file has arrived.  The
// server allows it by its hash in the Content-Security-Policy (routes.py).  The queries' code is
// bundled into it as well as into the app's module: one source, two copies of a few KB.
const boot = await build({
  entryPoints: ["src/boot.ts"],
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020", "chrome100", "firefox100", "safari15"],
  write: false,
  legalComments: "none",
  logLevel: "warning",
});
const bootCode = boot.outputFiles[0].text.trim();
if (/<\/script|<!--/i.test(bootCode)) throw new Error("boot.ts bundles to text that would end its <script> early");
const outputs = Object.entries(result.metafile.outputs);
const find = (entry) => basename(outputs.find(([, o]) => o.entryPoint === entry)[0]);
// Every other chunk (Chart.js, the helpers both share) is fetched at once, beside the app's script.
const preload = outputs.map(([path]) => basename(path))
  .filter((name) => name.endsWith(".js") && name !== find("src/main.ts")).sort()
  .map((name) => `<link rel="modulepreload" href="/dashboard/${name}">`).join("\n");
const html = readFileSync("src/index.html", "utf8")
  .replace("{{js}}", find("src/main.ts"))
  .replace("{{boot}}", () => bootCode)
  .replace("{{preload}}", preload)
  .replace("{{css}}", find("src/style.css"));
writeFileSync("dist/index.html", html);
copyFileSync("src/favicon.svg", "dist/favicon.svg");
writeFileSync("dist/SOURCE_SHA256", digest.digest("hex") + "\n");
for (const [path, out] of outputs) console.log(`${basename(path)}\t${out.bytes} bytes`);
console.log(`index.html: boot script\t${bootCode.length} bytes`);
