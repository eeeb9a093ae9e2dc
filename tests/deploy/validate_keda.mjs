// Validate KEDA objects against KEDA's published CRD schemas (the npm package @kubernetes-models/keda).
// usage: node validate_keda.mjs NODE_MODULES < objects.json   (a JSON array of objects)
// Prints one JSON line per object: {"kind", "name", "error"}; exits 1 when any is invalid.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.argv[2];
const objects = JSON.parse(readFileSync(0, "utf8"));
let failed = false;
for (const object of objects) {
  const [group, version] = object.apiVersion.split("/");
  const file = join(modules, "@kubernetes-models/keda", group, version, `${object.kind}.js`);
  const model = await import(pathToFileURL(file).href);
  let error = null;
  try {
    new model[object.kind](object).validate();
  } catch (e) {
    error = String(e.message || e);
    failed = true;
  }
  console.log(JSON.stringify({ kind: object.kind, name: object.metadata.name, error }));
}
process.exit(failed ? 1 : 0);
