import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createInterface } from "node:readline";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The page is rendered by a real browser against the Worker served from workerd: only that shows
// that Swagger UI runs under the page's Content-Security-Policy and needs nothing from the network.
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

let platform: { baseUrl: string };
let server: ChildProcess | undefined;
let browser: Browser;

/** The Worker bundled as for a deploy and served from workerd, in a process of its own. */
async function serveWorker(): Promise<{ baseUrl: string }> {
  const script = new URL("../../scripts/lib/serve-workerd.mjs", import.meta.url).pathname;
  server = spawn(process.execPath, [script, ".wrangler/docs-test/dist"], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: server.stdout as NodeJS.ReadableStream });
  for await (const line of lines) {
    if (line.startsWith("{")) return JSON.parse(line);
  }
  throw new Error("the Worker did not start");
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`No Chromium at ${CHROMIUM}: install Debian's (apt-get install -y chromium), as .ci/run does`);
  }
  platform = await serveWorker();
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  server?.stdin?.end();
});

describe("the /docs page in a browser", () => {
  it("renders the reference and runs a request, with nothing from elsewhere and no policy violated", {
    timeout: 60_000,
  }, async () => {
    const page = await browser.newPage();
    const elsewhere: string[] = [];
    const problems: string[] = [];
    // Anything not served by the Worker is refused and noted, as it would fail with no internet.
    await page.route("**/*", async (route) => {
      const url = route.request().url();
      if (url.startsWith(`${platform.baseUrl}/`) || url.startsWith("data:")) await route.continue();
      else {
        elsewhere.push(url);
        await route.abort();
      }
    });
    page.on("console", (message) => {
      if (message.type() === "error" || message.type() === "warning") problems.push(message.text());
    });
    page.on("pageerror", (error) => problems.push(String(error)));
    // Browser-side code as text: this file is typed for Node, not for the DOM.
    await page.addInitScript({
      content: `window.violations = [];
        document.addEventListener("securitypolicyviolation", (e) => window.violations.push(e.violatedDirective + " " + e.blockedURI));`,
    });

    await page.goto(`${platform.baseUrl}/docs`);
    const title = page.locator(".swagger-ui .info .title");
    await title.waitFor({ timeout: 30_000 });
    expect(await title.textContent()).toContain("edge-tenancy");
    expect(await page.locator(".opblock").count()).toBeGreaterThan(20);

    // Try GET /ping from the page: the call goes to this origin, which the policy allows.
    const ping = page.locator(".opblock-get", { has: page.locator('[data-path="/ping"]') }).first();
    await ping.locator(".opblock-summary").click();
    await ping.getByRole("button", { name: "Try it out" }).click();
    await ping.getByRole("button", { name: "Execute" }).click();
    await ping.locator(".live-responses-table tbody .response-col_status").first().waitFor({ timeout: 15_000 });
    expect(await ping.locator(".live-responses-table tbody .response-col_status").first().textContent()).toContain(
      "200",
    );

    const violations = await page.evaluate("window.violations");
    expect(violations).toEqual([]);
    expect(elsewhere).toEqual([]);
    expect(problems).toEqual([]);
    if (process.env.DOCS_SCREENSHOT) await page.screenshot({ path: process.env.DOCS_SCREENSHOT, fullPage: false });
  });
});
