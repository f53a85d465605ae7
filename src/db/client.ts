import { drizzle } from "drizzle-orm/d1";
import * as controlSchema from "./control-schema";

/** Typed drizzle client over the control database. */
export const controlDb = (env: Pick<Env, "CONTROL_DB">) => drizzle(env.CONTROL_DB, { schema: controlSchema });
export type ControlDb = ReturnType<typeof controlDb>;
