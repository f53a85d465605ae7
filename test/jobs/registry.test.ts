/// <reference types="vite/client" />
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { enqueue } from "../../src/jobs/enqueue";
import type { JobKind } from "../../src/jobs/kind";
import { KINDS } from "../../src/jobs/registry";

// Every module of the Worker, so a kind declared anywhere is found.
const modules = import.meta.glob<Record<string, unknown>>(["../../src/**/*.ts"], { eager: true });

const isKind = (value: unknown): value is JobKind =>
  typeof value === "object" &&
  value !== null &&
  typeof (value as JobKind).name === "string" &&
  (value as JobKind).body instanceof z.ZodObject &&
  typeof (value as JobKind).run === "function";

describe("the job registry", () => {
  it("lists every kind a module declares", () => {
    const declared = Object.entries(modules).flatMap(([path, exports]) =>
      Object.entries(exports)
        .filter(([, value]) => isKind(value))
        .map(([name, value]) => ({ path, name, listed: (KINDS as readonly unknown[]).includes(value) })),
    );
    expect(declared.map((kind) => kind.name)).toContain("moveStep");
    expect(declared.filter((kind) => !kind.listed)).toEqual([]);
  });

  it("gives each kind its own name", () => {
    const names = KINDS.map((kind) => kind.name);
    expect(new Set(names).size).toBe(names.length);
  });

  it("lets enqueue take only a declared kind with a body of its schema (checked by tsc)", () => {
    // Never called: tsc fails this file if any line below stops being a type error.
    const wrong = () => [
      // @ts-expect-error an undeclared kind
      enqueue(env, "tenant-purge", { tenantId: "ten_1" }),
      // @ts-expect-error moveId is required
      enqueue(env, "move-step", { seq: 1 }),
      // @ts-expect-error seq is a number
      enqueue(env, "move-step", { moveId: "mov_1", seq: "1" }),
      // @ts-expect-error no field beyond the schema's
      enqueue(env, "move-step", { moveId: "mov_1", tenantId: "ten_1" }),
    ];
    expect(wrong).toBeTypeOf("function");
  });
});
