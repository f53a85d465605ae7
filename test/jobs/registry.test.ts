/// <reference types="vite/client" />
import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { enqueue } from "../../src/jobs/enqueue";
import type { JobKind, MessageKind } from "../../src/jobs/kind";
import { KINDS } from "../../src/jobs/registry";
import { moveStepMessage } from "../../src/moves/messages";

// Every module of the Worker, so a kind declared anywhere is found.
const modules = import.meta.glob<Record<string, unknown>>(["../../src/**/*.ts"], { eager: true });

const isMessage = (value: unknown): value is MessageKind =>
  typeof value === "object" &&
  value !== null &&
  typeof (value as MessageKind).name === "string" &&
  (value as MessageKind).body instanceof z.ZodObject;

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

  it("has a job for every message kind a module declares", () => {
    const messages = Object.entries(modules).flatMap(([path, exports]) =>
      Object.entries(exports)
        .filter(([, value]) => isMessage(value) && !isKind(value))
        .map(([name, value]) => ({ path, name, kind: (value as MessageKind).name })),
    );
    expect(messages.map((message) => message.name)).toContain("moveStepMessage");
    const handled = new Set<string>(KINDS.map((kind) => kind.name));
    expect(messages.filter((message) => !handled.has(message.kind))).toEqual([]);
  });

  it("lets enqueue take only a body of the kind's schema (checked by tsc, and at run time)", async () => {
    // Never called: tsc fails this file if any line below stops being a type error.
    const wrong = () => [
      // @ts-expect-error moveId is required
      enqueue(env, moveStepMessage, { seq: 1 }),
      // @ts-expect-error seq is a number
      enqueue(env, moveStepMessage, { moveId: "mov_1", seq: "1" }),
    ];
    expect(wrong).toBeTypeOf("function");
    await expect(enqueue(env, moveStepMessage, { moveId: "mov_1", seq: 1.5 })).rejects.toThrow();
  });
});
