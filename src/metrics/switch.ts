/**
 * OBSERVABILITY = "off" turns off request metrics, slow-query logging and usage metering, for
 * `npm run bench` alone, which measures what they cost a request against a Worker without them.
 * A deployment never sets it: without it there is no usage to bill.
 */
export const observabilityOn = (env: { OBSERVABILITY?: string }) => env.OBSERVABILITY !== "off";
