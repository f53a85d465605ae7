import { type Column, getTableColumns, getTableName, is, Table } from "drizzle-orm";
import type { Dataset } from "./dataset";

/** A table holds tenant data when it has a tenant_id column, or it is the tenants table itself. */
const holdsTenantData = (table: Table) =>
  getTableName(table) === "tenants" ||
  Object.values(getTableColumns(table) as Record<string, Column>).some((column) => column.name === "tenant_id");

/**
 * The SQL names of the tables of these schema modules (a drizzle-kit schema root imported as a
 * namespace) that hold tenant data but that no dataset declares on any engine.
 *
 * @example undeclaredTenantTables([await import("../db/control-tables")], DATASETS) // [] when all are declared
 */
export function undeclaredTenantTables(
  schemas: readonly Record<string, unknown>[],
  datasets: readonly Dataset[],
): string[] {
  const declared = new Set<unknown>(
    datasets.flatMap((dataset) => (dataset.home === "gate" ? [] : [dataset.tables.sqlite, dataset.tables.pg])),
  );
  return schemas
    .flatMap((schema) => Object.values(schema))
    .filter((value): value is Table => is(value, Table) && holdsTenantData(value) && !declared.has(value))
    .map((table) => getTableName(table));
}
