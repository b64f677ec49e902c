// Copies tus-js-client's browser build (dist/tus.min.js, a UMD bundle that defines
// `window.tus`) into the Python package's static files, with the licences of everything
// the bundle holds. Run `npm ci && npm run vendor` after changing package.json; the output
// is checked in, so a pip install never needs Node.
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const STATIC = new URL("../src/audiostore/http/static/", import.meta.url);
// tus-js-client and the packages its browser bundle includes (the others are Node-only).
const BUNDLED = ["tus-js-client", "js-base64", "url-parse", "querystringify", "requires-port"];
const LICENCE_FILES = ["LICENSE", "LICENSE.md", "LICENSE.txt", "license"];

function licenceOf(name) {
  const dir = new URL(`./node_modules/${name}/`, import.meta.url);
  for (const file of LICENCE_FILES) {
    try { return readFileSync(new URL(file, dir), "utf8").trim(); } catch {}
  }
  throw new Error(`${name} has no licence file`);
}

const tus = require("tus-js-client/package.json");
const bundle = readFileSync(new URL("./node_modules/tus-js-client/dist/tus.min.js", import.meta.url), "utf8")
  .replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n");   // the map is not shipped
for (const name of BUNDLED.slice(1)) {
  if (!bundle.includes(`"${name}"`) && !bundle.includes(`${name}:`)) throw new Error(`${name} is no longer bundled`);
}
writeFileSync(new URL("tus.min.js", STATIC),
  `/*! tus-js-client ${tus.version} | MIT | licences: /static/tus.min.js.LICENSE.txt */\n${bundle}`);
const parts = BUNDLED.map((name) => {
  const pkg = require(`${name}/package.json`);
  return `${pkg.name} ${pkg.version} (${pkg.license})\n${"=".repeat(60)}\n${licenceOf(name)}\n`;
});
writeFileSync(new URL("tus.min.js.LICENSE.txt", STATIC),
  "tus.min.js is tus-js-client's browser build, which includes the packages below.\n\n" + parts.join("\n"));
console.log(`vendored tus-js-client ${tus.version}`);
