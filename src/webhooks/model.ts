/** The type of the event `POST …/webhooks/:id/test` sends: to that endpoint only, never in the feed. */
export const TEST_EVENT_TYPE = "webhook.test";
