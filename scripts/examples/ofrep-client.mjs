// An application's view of the flags: OpenFeature's server SDK with the standard OFREP provider,
// pointed at this Worker with a tenant key. Nothing here is ours but the URL and the key.
// Usage: BASE=http://localhost:8787 KEY=etk_... node scripts/examples/ofrep-client.mjs FLAG SUBJECT...
import { OFREPProvider } from "@openfeature/ofrep-provider";
import { OpenFeature } from "@openfeature/server-sdk";

const [flag, ...subjects] = process.argv.slice(2);
if (!flag || subjects.length === 0 || !process.env.BASE || !process.env.KEY) {
  console.error("usage: BASE=… KEY=… node scripts/examples/ofrep-client.mjs FLAG SUBJECT...");
  process.exit(2);
}
await OpenFeature.setProviderAndWait(
  new OFREPProvider({ baseUrl: process.env.BASE, headers: [["Authorization", `Bearer ${process.env.KEY}`]] }),
);
const client = OpenFeature.getClient();
for (const targetingKey of subjects) {
  const details = await client.getBooleanDetails(flag, false, { targetingKey });
  console.log(
    JSON.stringify({ subject: targetingKey, value: details.value, reason: details.reason, variant: details.variant }),
  );
}
await OpenFeature.close();
