// Opens notebooks in a running JupyterLab in headless Chromium, the way a student first sees
// them, and reports what their outputs show: the chart images (how many were decoded and drawn),
// inline SVG left in the outputs, and the text of any notification toast.
// Started by notebooks_test.go's TestJupyterLabFirstLook; it checks the report.
//
// Usage: node jupyterlab.mjs   (LAB_URL: the server with ?token=...; LAB_NOTEBOOKS: JSON list of
// notebook paths under the server's root; LAB_SCREENSHOTS: a folder for one PNG per notebook)
//
// playwright-core comes from lab/serve/e2e, the repository's browser driver (`npm ci` there).
import { createRequire } from "node:module";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const require = createRequire(new URL("../../lab/serve/e2e/package.json", import.meta.url));
const { chromium } = require("playwright-core");

const lab = new URL(process.env.LAB_URL);
const names = JSON.parse(process.env.LAB_NOTEBOOKS);
const shots = process.env.LAB_SCREENSHOTS;

const userDataDir = mkdtempSync(join(tmpdir(), "tunelab-chromium-"));
// A persistent context is how playwright takes a fresh --user-data-dir (17 MB once used).
const browser = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
  viewport: { width: 1280, height: 900 },
});
const report = {};
try {
  for (const name of names) {
    const page = await browser.newPage();
    // A workspace of its own, so that the page holds this notebook only.
    const url = new URL(`lab/workspaces/first-look-${names.indexOf(name)}/tree/${name}`, lab.origin + lab.pathname.replace(/\/?$/, "/"));
    url.search = lab.search;
    await page.goto(url.href);
    await page.waitForSelector(".jp-Notebook .jp-OutputArea-output", { state: "attached", timeout: 120_000 });
    // JupyterLab renders cells lazily as they scroll into view: scroll through the notebook so
    // every output is rendered, then wait for the images to be decoded.
    await page.evaluate(async () => {
      const scroller = document.querySelector(".jp-NotebookPanel .jp-WindowedPanel-outer") ||
        document.querySelector(".jp-NotebookPanel .jp-Notebook");
      for (let y = 0; y < scroller.scrollHeight; y += 400) {
        scroller.scrollTop = y;
        await new Promise((r) => setTimeout(r, 50));
      }
    });
    await page.waitForFunction(() => [...document.querySelectorAll(".jp-OutputArea-output img")].every((i) => i.complete));
    report[name] = await page.evaluate(() => {
      const charts = [...document.querySelectorAll('.jp-OutputArea-output img[src^="data:image/svg+xml"]')];
      return {
        charts: charts.length,
        drawn: charts.filter((i) => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0).length,
        alts: charts.map((i) => i.alt),
        inlineSVG: document.querySelectorAll(".jp-OutputArea-output svg").length,
        toasts: [...document.querySelectorAll(".Toastify__toast")].map((t) => t.innerText),
      };
    });
    if (shots) await page.screenshot({ path: join(shots, name.replace(/\W+/g, "-") + ".png") });
    await page.close();
  }
} finally {
  await browser.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
console.log(JSON.stringify(report));
