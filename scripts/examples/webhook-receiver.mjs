// A webhook receiver: checks each delivery's signature with the official Standard Webhooks
// library (npm `standardwebhooks`) before trusting its body, answers 204, and prints the event.
// Deliveries are at least once: a receiver dedupes by `webhook-id` (the event's id).
// Usage: WEBHOOK_SECRET=whsec_… node scripts/examples/webhook-receiver.mjs PORT [EVENTS]
//   exits after EVENTS verified events (default: runs until stopped), or after 60 s without one.
import { createServer } from "node:http";
import { Webhook } from "standardwebhooks";

const [port = "8789", count] = process.argv.slice(2);
if (!process.env.WEBHOOK_SECRET) {
  console.error("usage: WEBHOOK_SECRET=whsec_… node scripts/examples/webhook-receiver.mjs PORT [EVENTS]");
  process.exit(2);
}
const webhook = new Webhook(process.env.WEBHOOK_SECRET);
const seen = new Set();
let idle = setTimeout(() => {
  console.error("no verified event within 60 s");
  process.exit(1);
}, 60_000);

const server = createServer((req, res) => {
  const chunks = [];
  req.on("data", (chunk) => chunks.push(chunk));
  req.on("end", () => {
    const body = Buffer.concat(chunks).toString("utf8");
    let event;
    try {
      // Checks the signature (any of those sent, during a secret rotation) and that the timestamp
      // is within 5 minutes, against replays.
      event = webhook.verify(body, req.headers);
    } catch (error) {
      console.error(`refused: ${error.message}`);
      res.writeHead(400).end();
      return;
    }
    res.writeHead(204).end();
    if (seen.has(req.headers["webhook-id"])) return;
    seen.add(req.headers["webhook-id"]);
    console.log(`verified ${event.type} ${event.id} ${JSON.stringify(event.data.data ?? event.data)}`);
    clearTimeout(idle);
    idle = setTimeout(() => process.exit(1), 60_000);
    if (count && seen.size >= Number(count)) server.close(() => process.exit(0));
  });
});
server.listen(Number(port), "127.0.0.1");
