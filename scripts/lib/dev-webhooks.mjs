/**
 * Hosts webhooks may reach under `npm start` (WEBHOOK_ALLOW_HOSTS, passed with `--var`): receivers
 * on this machine, over http and at any port, so the README's receiver example works. The deployed
 * value in wrangler.toml is empty; test/webhooks/config.node.test.ts holds both.
 */
export const DEV_WEBHOOK_HOSTS = "127.0.0.1,localhost,[::1]";
