import { bodyLimit } from "hono/body-limit";
import { AppError } from "./problems";

export const MAX_BODY_BYTES = 1024 * 1024;

/** Rejects bodies over the limit with 413, whether or not Content-Length was sent. */
export const limitBody = (maxSize = MAX_BODY_BYTES) =>
  bodyLimit({
    maxSize,
    onError: () => {
      throw new AppError("payload-too-large", `The request body exceeds ${maxSize} bytes`);
    },
  });
