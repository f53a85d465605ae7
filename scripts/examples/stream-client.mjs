// A client of the tenant's realtime stream: asks for a ticket with a key (a browser's backend
// would, handing the ticket to the page), opens the WebSocket with it, prints each event and
// acknowledges it, so the server never has to hold or coalesce updates for it.
// Usage: BASE=http://localhost:8787 KEY=etk_… TENANT=ten_… node scripts/examples/stream-client.mjs [EVENTS] [TYPES]
//   EVENTS: exit after that many events (default: run until stopped); TYPES: e.g. "entry.*,flag.*".
//   LAST_EVENT_ID=evt_… resumes after that event. Needs Node 22 (its WebSocket); `npx node` is.
const { BASE, KEY, TENANT, LAST_EVENT_ID } = process.env;
const [count, types] = process.argv.slice(2);
if (!BASE || !KEY || !TENANT) {
  console.error("usage: BASE=… KEY=… TENANT=… node scripts/examples/stream-client.mjs [EVENTS] [TYPES]");
  process.exit(2);
}
const res = await fetch(`${BASE}/v1/tenants/${TENANT}/stream/tickets`, {
  method: "POST",
  headers: { Authorization: `Bearer ${KEY}`, "Content-Type": "application/json" },
  body: JSON.stringify(types ? { types: types.split(",") } : {}),
});
if (res.status !== 201) throw new Error(`no ticket: ${res.status} ${await res.text()}`);
const { url } = await res.json();
const resume = LAST_EVENT_ID ? `&last_event_id=${encodeURIComponent(LAST_EVENT_ID)}` : "";
const ws = new WebSocket(`${BASE.replace(/^http/, "ws")}${url}${resume}`);
let seen = 0;
const idle = setTimeout(() => {
  console.error("no event within 60 s");
  process.exit(1);
}, 60_000);
ws.addEventListener("message", ({ data }) => {
  const message = JSON.parse(String(data));
  if (message.kind === "ready") console.log(`ready from ${message.last_event_id ?? "the start"}`);
  if (message.kind === "resync") console.log(`resync: ${message.reason}`);
  if (message.kind !== "event") return;
  const { event } = message;
  console.log(
    `${event.type} ${event.subject.type}/${event.subject.id} seq ${event.seq}${message.coalesced ? ` (replaces ${message.coalesced})` : ""}`,
  );
  ws.send(JSON.stringify({ kind: "ack", last_event_id: event.id }));
  if (count && ++seen >= Number(count)) {
    clearTimeout(idle);
    ws.close(1000);
  }
});
ws.addEventListener("close", ({ code }) => {
  clearTimeout(idle);
  if (code !== 1000) console.log(`closed: ${code}`);
  process.exit(code === 1000 ? 0 : 1);
});
