// A closed-loop HTTP load generator on node:http, and a one-shot burst of concurrent requests.
import http from "node:http";

const GATE_TIMING = /(?:^|,)\s*gate;dur=([0-9.]+)/;

/** One request on `agent`; resolves with status, headers, body text and latency in ms (never rejects). */
export function send(agent, url, { method = "GET", headers = {}, body, timeoutMs = 30_000 } = {}) {
  return new Promise((resolve) => {
    const started = performance.now();
    const req = http.request(url, { method, headers, agent }, (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () =>
        resolve({
          status: res.statusCode,
          headers: res.headers,
          body: Buffer.concat(chunks).toString("utf8"),
          ms: performance.now() - started,
        }),
      );
      res.on("error", (error) => resolve({ status: 0, error, ms: performance.now() - started }));
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`timed out after ${timeoutMs} ms`)));
    req.on("error", (error) => resolve({ status: 0, error, ms: performance.now() - started }));
    req.end(body);
  });
}

/** The `gate;dur=` value of a Server-Timing header (string or array), or null. */
export function gateTiming(header) {
  const value = Array.isArray(header) ? header.join(", ") : header;
  const match = value ? GATE_TIMING.exec(value) : null;
  return match ? Number(match[1]) : null;
}

/**
 * Keeps `concurrency` requests in flight on keep-alive sockets for `durationMs`.
 * Returns latencies (ms), status counts (0 = transport error), the gate's Server-Timing values and
 * the first few errors; a request still in flight at the deadline completes and is counted.
 */
export async function runLoad({ url, method = "GET", headers = {}, body, concurrency = 8, durationMs = 5000 }) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency });
  const latencies = [];
  const serverTimings = [];
  const statusCounts = {};
  const errors = [];
  const started = performance.now();
  const deadline = started + durationMs;

  const worker = async () => {
    while (performance.now() < deadline) {
      const res = await send(agent, url, { method, headers, body });
      statusCounts[res.status] = (statusCounts[res.status] ?? 0) + 1;
      if (res.error) {
        if (errors.length < 5) errors.push(String(res.error.message ?? res.error));
        continue;
      }
      latencies.push(res.ms);
      const timing = gateTiming(res.headers["server-timing"]);
      if (timing !== null) serverTimings.push(timing);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - started;
  agent.destroy();
  return { requests: latencies.length, elapsedMs, latencies, statusCounts, serverTimings, errors };
}

/** Opens `count` sockets and sends all requests at once; resolves with every response. */
export async function burst({ url, headers = {}, count }) {
  const agent = new http.Agent({ keepAlive: false, maxSockets: count });
  const responses = await Promise.all(Array.from({ length: count }, () => send(agent, url, { headers })));
  agent.destroy();
  return responses;
}
