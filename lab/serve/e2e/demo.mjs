// Drives the demo page in headless Chromium: type, submit, read the label and bars, click an
// example, flag, check the flag log, try the phone width and the keyboard shortcut, and save a
// screenshot. Started by lab/serve's TestBrowser with the server's URL and expectations.
//
// Usage: node demo.mjs  (configuration in the environment, see below)
import { chromium } from "playwright-core";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const url = process.env.DEMO_URL;                    // server base URL
const expect = JSON.parse(process.env.DEMO_EXPECT);  // {typed: {text, label, bars}, example: {...}}
const flagFile = process.env.DEMO_FLAG_FILE;         // path of the flag CSV
const screenshot = process.env.DEMO_SCREENSHOT;      // where to save the PNG ("" for none)

function check(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function readResult(page) {
  await page.waitForFunction(() => document.querySelectorAll("#bars li").length > 0);
  return page.evaluate(() => ({
    label: document.getElementById("label").textContent,
    bars: [...document.querySelectorAll("#bars li")].map((li) => ({
      label: li.dataset.label,
      text: li.querySelector(".bar-text span:last-child").textContent,
      width: li.querySelector(".bar-fill").style.width,
      meter: Number(li.querySelector("[role=meter]").getAttribute("aria-valuenow")),
    })),
    latency: document.getElementById("latency").textContent,
  }));
}

function checkResult(got, want, what) {
  check(got.label === want.label, `${what}: label ${got.label}, want ${want.label}`);
  check(got.bars.length === want.bars.length, `${what}: ${got.bars.length} bars, want ${want.bars.length}`);
  want.bars.forEach((b, i) => {
    const g = got.bars[i];
    check(g.label === b.label, `${what}: bar ${i} is ${g.label}, want ${b.label}`);
    check(g.text === b.percent, `${what}: bar ${b.label} shows ${g.text}, want ${b.percent}`);
    // The browser normalises the width (60.0% reads back as 60%).
    check(Math.abs(parseFloat(g.width) - 100 * b.p) < 0.051, `${what}: bar ${b.label} is ${g.width} wide, want ${b.percent}`);
    check(Math.abs(g.meter - b.p) < 1e-6, `${what}: bar ${b.label} meter ${g.meter}, want ${b.p}`);
  });
  check(/^Latency: \d+ ms/.test(got.latency), `${what}: latency text ${JSON.stringify(got.latency)}`);
}

const userDataDir = mkdtempSync(join(tmpdir(), "tunelab-chromium-"));
// A persistent context is how playwright takes a fresh --user-data-dir.
const browser = await chromium.launchPersistentContext(userDataDir, {
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  viewport: { width: 1100, height: 760 },
});
try {
  const page = await browser.newPage();
  const failures = [];
  page.on("pageerror", (e) => failures.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") failures.push(`console error: ${m.text()}`); });
  page.on("response", (r) => { if (r.status() >= 400) failures.push(`${r.status()} for ${r.url()}`); });
  page.on("request", (r) => { if (!r.url().startsWith(url)) failures.push(`request to another host: ${r.url()}`); });

  await page.goto(url + "/");
  check((await page.title()) === expect.title, `title ${await page.title()}`);

  // Type and click Submit.
  await page.getByLabel("Text").fill(expect.typed.text);
  await page.getByRole("button", { name: "Submit" }).click();
  checkResult(await readResult(page), expect.typed, "typed text");

  // Clear, then an example: it fills the textbox and predicts.
  await page.getByRole("button", { name: "Clear" }).click();
  check((await page.getByLabel("Text").inputValue()) === "", "Clear left text behind");
  check((await page.locator("#bars li").count()) === 0, "Clear left bars behind");
  await page.getByRole("button", { name: expect.example.text }).click();
  check((await page.getByLabel("Text").inputValue()) === expect.example.text, "example did not fill the textbox");
  checkResult(await readResult(page), expect.example, "example");

  // Flag the example's prediction and read the CSV the server wrote.
  await page.getByRole("button", { name: "Flag" }).click();
  await page.getByText("Flagged. Thank you!").waitFor();
  const csv = readFileSync(flagFile, "utf8");
  check(csv.includes(`,${expect.example.text},${expect.example.label},`), `flag CSV lacks the example row:\n${csv}`);

  // Keyboard: focus the textbox by tabbing is covered by the label; Ctrl+Enter submits.
  await page.getByLabel("Text").fill(expect.typed.text);
  await page.evaluate(() => document.getElementById("bars").replaceChildren());
  await page.getByLabel("Text").press("Control+Enter");
  checkResult(await readResult(page), expect.typed, "Ctrl+Enter");
  const outline = await page.evaluate(() => {
    const b = document.getElementById("submit");
    b.focus({ focusVisible: true });
    return getComputedStyle(b).outlineStyle;
  });
  check(outline !== "none", `focused Submit has no outline (${outline})`);

  // Phone width: panels stack, nothing overflows horizontally.
  await page.setViewportSize({ width: 375, height: 800 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `page overflows a 375px screen by ${overflow}px`);
  await page.setViewportSize({ width: 1100, height: 760 });

  // Put the typed prediction back on screen for the picture.
  await page.getByRole("button", { name: "Submit" }).click();
  await readResult(page);
  // The bars appear a moment before the request settles and Submit is enabled again.
  await page.waitForFunction(() => !document.getElementById("submit").disabled);
  if (screenshot) await page.screenshot({ path: screenshot, fullPage: true });
  check(failures.length === 0, failures.join("\n"));
  console.log("browser checks passed");
} finally {
  await browser.close();
  rmSync(userDataDir, { recursive: true, force: true });
}
