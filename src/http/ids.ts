import { monotonicFactory } from "ulid";

// Monotonic within an isolate, so ids minted in the same millisecond still sort in creation order.
const ulid = monotonicFactory();

/** Resource ids are a short type prefix plus a ULID, so ids sort by creation time. */
export const newId = (
  prefix:
    | "ten"
    | "usr"
    | "key"
    | "ent"
    | "mov"
    | "exp"
    | "bak"
    | "arc"
    | "dlq"
    | "rst"
    | "stg"
    | "slq"
    | "use"
    | "whk"
    | "msg"
    | "atm"
    | "stk",
) => `${prefix}_${ulid()}`;

export const ID_PATTERN = /^[a-z]{3}_[0-9A-HJKMNP-TV-Z]{26}$/;
