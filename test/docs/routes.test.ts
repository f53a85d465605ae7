import { Buffer } from "node:buffer";
import { describe, expect, it } from "vitest";
import { DOCS_CSP } from "../../src/docs/routes";
import { call, expectProblem } from "../helpers";

/** The src/href and integrity of every script and stylesheet the page loads. */
function referencesOf(html: string) {
  return [...html.matchAll(/<(?:script|link)\b[^>]*?(?:src|href)="([^"]+)"[^>]*?integrity="([^"]+)"/g)].map(
    ([, url, integrity]) => ({ url: url as string, integrity: integrity as string }),
  );
}

describe("the /docs reference page", () => {
  it("loads only its own assets, each pinned by Subresource Integrity, under a policy that allows nothing else", async () => {
    const page = await call("/docs");
    expect(page.status).toBe(200);
    expect(page.headers.get("Content-Type")).toMatch(/^text\/html/);
    expect(page.headers.get("Content-Security-Policy")).toBe(DOCS_CSP);
    expect(DOCS_CSP).not.toMatch(/unsafe|https?:|\*/);
    expect(page.text).not.toMatch(/https?:\/\//);
    expect(page.text).not.toMatch(/<script>|<style>| style=| on\w+=/i);
    const references = referencesOf(page.text);
    expect(references.map((ref) => ref.url.split("/").at(-1))).toEqual([
      "swagger-ui.css",
      "swagger-ui-bundle.js",
      "init.js",
    ]);
    for (const { url, integrity } of references) {
      expect(url).toMatch(/^\/docs\/assets\/[0-9a-f]{16}\//);
      const asset = await call(url);
      expect(asset.status, url).toBe(200);
      expect(asset.headers.get("Cache-Control")).toBe("public, max-age=31536000, immutable");
      expect(asset.headers.get("Content-Type")).toMatch(url.endsWith(".css") ? /^text\/css/ : /^text\/javascript/);
      const digest = Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(asset.text)));
      expect(integrity).toBe(`sha256-${digest.toString("base64")}`);
      expect(url).toContain(`/${digest.toString("hex").slice(0, 16)}/`);
    }
  });

  it("serves the Swagger UI of the pinned package", async () => {
    const bundle = referencesOf((await call("/docs")).text).find((ref) => ref.url.endsWith("swagger-ui-bundle.js"));
    const text = (await call(bundle?.url as string)).text;
    expect(text).toContain("SwaggerUIBundle");
    expect(text.length).toBeGreaterThan(1_000_000);
  });

  it("answers 404 for an asset it does not have, or one whose digest is not the current one", async () => {
    const bundle = referencesOf((await call("/docs")).text)[1] as { url: string };
    expectProblem(await call(bundle.url.replace(/assets\/[0-9a-f]{16}/, "assets/0000000000000000")), 404, "not-found");
    expectProblem(await call("/docs/assets/x/package.json"), 404, "not-found");
    expectProblem(await call("/docs/assets"), 404, "not-found");
  });
});
