import { Buffer } from "node:buffer";
import css from "swagger-ui-dist/swagger-ui.css";
import bundle from "swagger-ui-dist/swagger-ui-bundle.js";

/** Starts Swagger UI on the page's `#swagger-ui`, reading the document URL from its data-spec. */
const INIT = `"use strict";
const root = document.getElementById("swagger-ui");
window.ui = SwaggerUIBundle({
  url: root.dataset.spec,
  dom_id: "#swagger-ui",
  deepLinking: true,
  validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis],
  layout: "BaseLayout",
});
`;

export type DocsAsset = {
  /** Where it is served: the content's digest is in the path, so the URL of a content never changes. */
  path: string;
  /** Subresource Integrity of the content, for the page's `integrity` attributes. */
  integrity: string;
  contentType: string;
  body: string;
};

export type DocsAssets = { css: DocsAsset; bundle: DocsAsset; init: DocsAsset };

async function asset(name: string, contentType: string, body: string): Promise<DocsAsset> {
  const digest = Buffer.from(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(body)));
  return {
    path: `/docs/assets/${digest.toString("hex").slice(0, 16)}/${name}`,
    integrity: `sha256-${digest.toString("base64")}`,
    contentType,
    body,
  };
}

let built: Promise<DocsAssets> | undefined;

/** The reference page's assets, from the pinned swagger-ui-dist package; digested once per isolate. */
export function docsAssets(): Promise<DocsAssets> {
  built ??= Promise.all([
    asset("swagger-ui.css", "text/css; charset=utf-8", css),
    asset("swagger-ui-bundle.js", "text/javascript; charset=utf-8", bundle),
    asset("init.js", "text/javascript; charset=utf-8", INIT),
  ]).then(([css, bundle, init]) => ({ css, bundle, init }));
  return built;
}
