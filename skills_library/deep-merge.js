// /// script
// dependencies = ["lodash@^4.17.21"]
//
// [tool.atom]
// name = "deep-merge"
// version = "1.0.0"
// category = "dev"
// type = "transform"
// description = """Deep-merge configuration objects left to right (later ones win), with arrays \
// either replaced or concatenated; handy for layering defaults, environment and overrides."""
// tags = ["merge", "config", "lodash", "json"]
// entrypoint = "run"
// timeout = 10
//
// [tool.atom.inputs]
// type = "object"
// required = ["objects"]
// additionalProperties = false
//
// [tool.atom.inputs.properties.objects]
// type = "array"
// minItems = 1
// items = { type = "object" }
//
// [tool.atom.inputs.properties.arrays]
// enum = ["replace", "concat"]
// default = "replace"
//
// [[tool.atom.examples]]
// [tool.atom.examples.input]
// objects = [
//     { db = { host = "localhost", port = 5432 }, plugins = ["auth"], debug = false },
//     { db = { host = "db.internal" }, plugins = ["metrics"] },
//     { debug = true },
// ]
// arrays = "concat"
// [tool.atom.examples.output.merged]
// db = { host = "db.internal", port = 5432 }
// plugins = ["auth", "metrics"]
// debug = true
// ///
const _ = require("lodash");

/**
 * Merge `objects` into a new object; the inputs are left untouched.
 * @param {{objects: object[], arrays?: "replace" | "concat"}} params
 * @returns {{merged: object}}
 */
function run({ objects, arrays = "replace" }) {
  const combine = (target, source) => {
    if (Array.isArray(source)) {
      return arrays === "concat" && Array.isArray(target) ? target.concat(source) : source;
    }
    return undefined; // lodash's default deep merge
  };
  return { merged: _.mergeWith({}, ...objects, combine) };
}

module.exports = { run };
