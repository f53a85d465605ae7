import { integer, text } from "drizzle-orm/sqlite-core";

/** Epoch milliseconds; timestamps cross engines and JSON as plain numbers. */
export const epochMs = (name: string) => integer(name, { mode: "number" });

/** A JSON value stored as TEXT (SQLite has no JSON column type). */
export const jsonText = <T>(name: string) => text(name, { mode: "json" }).$type<T>();
