// Copy the bundled front-end libraries from node_modules into the package's static/vendor folder.
// Run by scripts/setup-web.sh after `npm ci`; the vendor folder is git-ignored and produced only here.
import { copyFileSync, mkdirSync, rmSync, existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const vendor = join(here, "..", "src", "leefbaar", "web", "static", "vendor");
const files = {
  "maplibre-gl/dist/maplibre-gl.mjs": "maplibre-gl.mjs",
  "maplibre-gl/dist/maplibre-gl-worker.mjs": "maplibre-gl-worker.mjs",
  "maplibre-gl/dist/maplibre-gl.css": "maplibre-gl.css",
  "maplibre-gl/LICENSE.txt": "maplibre-gl.LICENSE.txt",
  "topojson-client/dist/topojson-client.min.js": "topojson-client.min.js",
  "topojson-client/LICENSE": "topojson-client.LICENSE.txt",
};

rmSync(vendor, { recursive: true, force: true });
mkdirSync(vendor, { recursive: true });
for (const [from, to] of Object.entries(files)) {
  const src = join(here, "node_modules", from);
  if (!existsSync(src)) {
    console.error(`missing ${src}: run 'npm ci' in frontend/ first`);
    process.exit(1);
  }
  copyFileSync(src, join(vendor, to));
}
console.log(`copied ${Object.keys(files).length} files to ${vendor}`);
