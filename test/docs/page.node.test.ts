import { existsSync } from "node:fs";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs helper shared with the bench, without type declarations.
import { startWorkerd } from "../../scripts/lib/workerd.mjs";

// The page is rendered by a real browser against the Worker served from workerd: only that shows
// that Swagger UI runs under the page's Content-Security-Policy and needs nothing from the network.
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

type Platform = { baseUrl: string; stop: () => Promise<void> };
let platform: Platform;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`No Chromium at ${CHROMIUM}: install Debian's (apt-get install -y chromium), as .ci/run does`);
  }
  platform = await startWorkerd({ port: 0, outDir: ".wrangler/docs-test/dist" });
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
  await platform?.stop();
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
