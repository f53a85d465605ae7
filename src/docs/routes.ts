import { Hono } from "hono";
import type { AppEnv } from "../env";
import { notFound } from "../http/problems";
import { type DocsAssets, docsAssets } from "./assets";

/** The page may load its own assets and the API document from this origin, and nothing else. */
export const DOCS_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "font-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join("; ");

/** An asset's URL changes with its content, so a browser may keep it for good. */
const IMMUTABLE = "public, max-age=31536000, immutable";

const page = ({ css, bundle, init }: DocsAssets) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>edge-tenancy API</title>
<link rel="stylesheet" href="${css.path}" integrity="${css.integrity}">
</head>
<body>
<div id="swagger-ui" data-spec="/openapi.json"></div>
<script src="${bundle.path}" integrity="${bundle.integrity}"></script>
<script src="${init.path}" integrity="${init.integrity}"></script>
</body>
</html>
`;

/** `/docs`: the API reference, served with its assets from this Worker (no CDN, works offline). */
export const docsRoutes = new Hono<AppEnv>()
  .get("/", async (c) => {
    c.header("Content-Security-Policy", DOCS_CSP);
    // Each deploy may name other asset URLs; the page itself is checked every time.
    c.header("Cache-Control", "no-cache");
    return c.html(page(await docsAssets()));
  })
  .get("/assets/:digest/:name", async (c) => {
    const assets = Object.values(await docsAssets());
    const found = assets.find((asset) => asset.path === new URL(c.req.url).pathname);
    if (!found) throw notFound("Asset");
    c.header("Content-Type", found.contentType);
    c.header("Cache-Control", IMMUTABLE);
    return c.body(found.body);
  });
