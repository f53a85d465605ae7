/** `{ content: { "application/json": { schema } } }`, the shape createRoute wants for JSON bodies. */
export const json = <T>(schema: T) => ({ content: { "application/json": { schema } } });
