import { type Column, eq, getTableColumns, type SQL, sql } from "drizzle-orm";
import { copiedColumns } from "../datasets/canonical";
import { keyColumnOf, type TableDataset } from "../datasets/dataset";
import type { ControlDb } from "../db/client";
import type { Emit } from "./domain";
import type { EventType } from "./event";
import { outbox } from "./outbox-table";

// Control-plane changes write their event into the control database's outbox in the change's own
// batch; the relay (./relay.ts) carries it to the tenant's feed in its shard.

/**
 * D1 allows a SQL function at most 32 arguments: json_object takes the first 16 columns, and each
 * json_set around it 15 more (its first argument is the object so far).
 */
const FIRST_PAIRS = 16;
const MORE_PAIRS = 15;

/**
 * The row as its dataset exports it, built by SQLite inside the statement (json_object over the
 * copied columns, by SQL name, then json_set for the columns past the 16th): the event's data is
 * exactly the state the batch committed.
 */
function rowJson(dataset: TableDataset): SQL {
  const pairs = copiedColumns(dataset, dataset.tables.sqlite).map(([, column]) => {
    const c = column as Column;
    const value =
      c.columnType === "SQLiteTextJson"
        ? sql`json(${c})`
        : c.columnType === "SQLiteBoolean"
          ? sql`json(case when ${c} then 'true' else 'false' end)`
          : sql`${c}`;
    return { name: c.name, value };
  });
  let row = sql`json_object(${sql.join(
    pairs.slice(0, FIRST_PAIRS).map(({ name, value }) => sql`${name}, ${value}`),
    sql`, `,
  )})`;
  for (let i = FIRST_PAIRS; i < pairs.length; i += MORE_PAIRS) {
    const more = pairs.slice(i, i + MORE_PAIRS).map(({ name, value }) => sql`${`$.${name}`}, ${value}`);
    row = sql`json_set(${row}, ${sql.join(more, sql`, `)})`;
  }
  return row;
}

/** A control-plane change's event, of each row of `dataset` that `where` selects after the change. */
export type ControlEvent = {
  type: EventType;
  tenantId: string;
  /** What the events are about ("tenant", "user", "key"); each row's key is the subject's id. */
  subject: string;
  dataset: TableDataset;
  /** The rows changed: one subject's id, or a condition on the dataset's table. */
  where: string | SQL;
  /**
   * Columns whose value the event states itself, for an event inserted before the statement
   * that sets them (the statement after it changes which rows `where` selects).
   */
  after?: Record<string, SQL>;
};

const payloadOf = (type: EventType, subject: string, id: SQL, data: SQL, origin: Emit["origin"], now: number) =>
  sql`json_object('type', ${type}, 'subject', json_object('type', ${subject}, 'id', ${id}), 'data', ${data}, 'occurredAt', ${now}, 'requestId', ${origin.requestId}, 'actor', json(${JSON.stringify(origin.actor)}))`;

/**
 * The outbox insert of `event`, to run in the change's own batch after the statement making the
 * change: it reads the rows that statement left, so it inserts nothing where there is no such row
 * (an insert skipped on conflict, an update that matched nothing).
 */
export function outboxEvent(db: ControlDb, emit: Pick<Emit, "origin">, event: ControlEvent, now = Date.now()) {
  const table = event.dataset.tables.sqlite;
  const key = (getTableColumns(table) as Record<string, Column>)[keyColumnOf(event.dataset)] as Column;
  const overrides = Object.entries(event.after ?? {}).map(([name, value]) => sql`${`$.${name}`}, ${value}`);
  const state = rowJson(event.dataset);
  const data = overrides.length === 0 ? state : sql`json_set(${state}, ${sql.join(overrides, sql`, `)})`;
  const where = typeof event.where === "string" ? eq(key, event.where) : event.where;
  return db
    .insert(outbox)
    .select(
      sql`select null, ${event.tenantId}, 'event', ${payloadOf(event.type, event.subject, sql`${key}`, data, emit.origin, now)}, ${now} from ${table} where ${where}`,
    );
}

/** The outbox insert of the event of a removal, inserting nothing unless the statement before it removed a row. */
export function outboxRemoval(
  db: ControlDb,
  emit: Emit,
  event: { type: EventType; tenantId: string; subject: string; id: string },
  now = Date.now(),
) {
  const id = sql`${event.id}`;
  const payload = payloadOf(event.type, event.subject, id, sql`json_object('id', ${id})`, emit.origin, now);
  return db.insert(outbox).select(sql`select null, ${event.tenantId}, 'event', ${payload}, ${now} where changes() > 0`);
}
