import { env } from "cloudflare:workers";
import { beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import dashboard from "../../dashboards/edge-tenancy.json";
import { adminKey, call, createTenant, tenantKey } from "../helpers";

// The fields of Grafana's dashboard model (schemaVersion 39) an import reads; anything missing
// or malformed here is refused or silently dropped by Grafana.
const Datasource = z.object({ type: z.literal("prometheus"), uid: z.string() });
const GridPos = z
  .object({
    h: z.number().int().positive(),
    w: z.number().int().min(1).max(24),
    x: z.number().int().min(0),
    y: z.number().int().min(0),
  })
  .refine((pos) => pos.x + pos.w <= 24, "a panel must fit the 24-column grid");
const Target = z.object({
  refId: z.string().min(1),
  expr: z.string().min(1),
  legendFormat: z.string(),
  datasource: Datasource,
});
const Panel = z.discriminatedUnion("type", [
  z.object({
    id: z.number().int(),
    type: z.literal("row"),
    title: z.string(),
    gridPos: GridPos,
    collapsed: z.boolean(),
    panels: z.array(z.unknown()),
  }),
  z.object({
    id: z.number().int(),
    type: z.literal("timeseries"),
    title: z.string().min(1),
    gridPos: GridPos,
    datasource: Datasource,
    fieldConfig: z.object({ defaults: z.object({ unit: z.string() }), overrides: z.array(z.unknown()) }),
    targets: z.array(Target).min(1),
  }),
]);
const Variable = z.object({
  name: z.string().regex(/^[a-z]+$/),
  type: z.enum(["datasource", "query"]),
  query: z.unknown(),
});
const Dashboard = z.object({
  uid: z.string().regex(/^[a-zA-Z0-9_-]{1,40}$/),
  title: z.string().min(1),
  schemaVersion: z.number().int().min(36),
  version: z.number().int(),
  time: z.object({ from: z.string(), to: z.string() }),
  templating: z.object({ list: z.array(Variable) }),
  annotations: z.object({ list: z.array(z.unknown()) }),
  panels: z.array(Panel).min(1),
});

let admin: string;
beforeAll(async () => {
  admin = await adminKey();
});

describe("the Grafana dashboard (dashboards/edge-tenancy.json)", () => {
  const parsed = Dashboard.parse(dashboard);
  const graphs = parsed.panels.filter((panel) => panel.type === "timeseries");

  it("has the shape Grafana imports: unique panel ids and refIds, defined variables, panels not overlapping", () => {
    const ids = parsed.panels.map((panel) => panel.id);
    expect(new Set(ids).size).toBe(ids.length);
    const variables = new Set(parsed.templating.list.map((variable) => variable.name));
    const builtIn = new Set(["__rate_interval", "__interval", "__all"]);
    for (const panel of graphs) {
      const refIds = panel.targets.map((target) => target.refId);
      expect(new Set(refIds).size, panel.title).toBe(refIds.length);
      for (const text of [panel.title, ...panel.targets.map((target) => target.expr), panel.datasource.uid]) {
        for (const [, name] of text.matchAll(/\$\{?([a-zA-Z_]+)\}?/g)) {
          expect(variables.has(name as string) || builtIn.has(name as string), `${panel.title}: $${name}`).toBe(true);
        }
      }
    }
    const cells = new Set<string>();
    for (const { gridPos, title } of parsed.panels) {
      for (let x = gridPos.x; x < gridPos.x + gridPos.w; x++) {
        for (let y = gridPos.y; y < gridPos.y + gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${title} overlaps another panel`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
    expect(parsed.panels.filter((panel) => panel.type === "row").map((panel) => panel.title)).toEqual([
      "Platform overview",
      "Per tier",
      "Per tenant (the busiest METRICS_TOP_TENANTS)",
      "Shards",
      "Gate decisions",
    ]);
  });

  it("queries only series that GET /metrics exposes", async () => {
    const tenant = await createTenant(admin);
    const key = (await tenantKey(admin, tenant.id)).secret;
    await call(`/v1/tenants/${tenant.id}/entries`, { key });
    const text = (await call("/metrics", { key: env.METRICS_TOKEN })).text;
    const families = new Map(
      [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((match) => [match[1] as string, match[2] as string]),
    );
    const exposed = (name: string) => {
      const histogram = /^(.*)_(bucket|sum|count)$/.exec(name);
      if (histogram && families.get(histogram[1] as string) === "histogram") return true;
      return families.has(name) && families.get(name) !== "histogram";
    };
    for (const panel of graphs) {
      for (const target of panel.targets) {
        const names = [...target.expr.matchAll(/\bedge_tenancy_[a-z_]+/g)].map((match) => match[0]);
        expect(names.length, panel.title).toBeGreaterThan(0);
        for (const name of names) expect(exposed(name), `${panel.title}: ${name}`).toBe(true);
      }
    }
  });
});
