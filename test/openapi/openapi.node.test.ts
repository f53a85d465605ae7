import { validate } from "@readme/openapi-parser";
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app";

const vars = { CORS_ORIGINS: "*", PROBLEM_BASE_URL: "https://edge-tenancy.dev/problems" };

// Runs in Node: the validator compiles JSON Schemas with `new Function`, which workerd forbids.
// The app module is runtime-neutral, so the document is the one the Worker serves.
describe("GET /openapi.json", () => {
  it("is a valid OpenAPI 3.1 document", async () => {
    const res = await createApp().request("/openapi.json", {}, vars);
    expect(res.status).toBe(200);
    const document = (await res.json()) as any;
    expect(document.openapi).toBe("3.1.0");
    const result = await validate(structuredClone(document));
    expect(result.valid ? [] : result.errors).toEqual([]);
    expect(result.specification).toBe("OpenAPI");
  });

  it("would be caught if it broke the spec", async () => {
    const document = (await (await createApp().request("/openapi.json", {}, vars)).json()) as any;
    const path = Object.keys(document.paths).find((p) => p.includes("{entryId}")) as string;
    for (const operation of Object.values(document.paths[path]) as { parameters?: unknown[] }[]) {
      operation.parameters = [];
    }
    const result = await validate(document);
    expect(result.valid).toBe(false);
  });

  it("describes every route the app serves", async () => {
    const app = createApp();
    const document = (await (await app.request("/openapi.json", {}, vars)).json()) as any;
    const documented = new Set(
      Object.entries(document.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
        Object.keys(ops).map((method) => `${method.toUpperCase()} ${path.replaceAll(/\{(\w+)\}/g, ":$1")}`),
      ),
    );
    const served = app.routes
      .filter((r) => r.method !== "ALL" && r.path.startsWith("/v1/"))
      .map((r) => `${r.method} ${r.path.replace(/\/$/, "")}`);
    expect(served.length).toBeGreaterThan(15);
    for (const route of served) expect(documented, route).toContain(route);
  });
});
