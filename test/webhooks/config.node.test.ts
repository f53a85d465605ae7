import { describe, expect, it } from "vitest";
import { unstable_readConfig } from "wrangler";
import { DEV_WEBHOOK_HOSTS } from "../../scripts/lib/dev-webhooks.mjs";
import { refusedTarget, targetPolicy } from "../../src/webhooks/ssrf";

// The two configurations of the target guard: the deployed one (wrangler.toml) allows nothing
// local, `npm start`'s (scripts/start.mjs passes DEV_WEBHOOK_HOSTS) allows receivers on loopback.

const LOOPBACK = ["http://127.0.0.1:4000/hook", "http://localhost:4000/hook", "http://[::1]:4000/hook"];

describe("the webhook target guard's configurations", () => {
  it("deployed (wrangler.toml): every loopback, private or metadata target refused", () => {
    const vars = unstable_readConfig({ config: "wrangler.toml" }).vars as Record<string, string>;
    expect(vars.WEBHOOK_ALLOW_HOSTS).toBe("");
    const policy = targetPolicy(vars);
    for (const url of [...LOOPBACK, "https://127.0.0.1/", "https://169.254.169.254/", "https://10.0.0.1/"]) {
      expect(refusedTarget(url, policy), url).not.toBeNull();
    }
  });

  it("npm start: loopback receivers over http allowed, private and metadata targets still refused", () => {
    const policy = targetPolicy({ WEBHOOK_ALLOW_HOSTS: DEV_WEBHOOK_HOSTS });
    for (const url of LOOPBACK) expect(refusedTarget(url, policy), url).toBeNull();
    for (const url of [
      "http://10.0.0.1/",
      "https://169.254.169.254/",
      "http://192.168.1.1/",
      "http://metadata.google.internal/",
    ]) {
      expect(refusedTarget(url, policy), url).not.toBeNull();
    }
  });
});
