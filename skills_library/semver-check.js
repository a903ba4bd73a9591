// /// script
// dependencies = ["semver@^7.5.0"]
//
// [tool.atom]
// name = "semver-check"
// version = "1.0.0"
// category = "dev"
// type = "validate"
// description = """Check versions against an npm semver range: which satisfy it, the highest \
// match, and the versions sorted; invalid versions are reported, not dropped silently."""
// tags = ["semver", "version", "npm", "range"]
// entrypoint = "run"
// timeout = 10
//
// [tool.atom.inputs]
// type = "object"
// required = ["versions", "range"]
// additionalProperties = false
//
// [tool.atom.inputs.properties.versions]
// type = "array"
// items = { type = "string" }
//
// [tool.atom.inputs.properties.range]
// type = "string"
// minLength = 1
//
// [[tool.atom.examples]]
// input = { versions = ["1.2.3", "2.0.0", "1.10.0", "1.4.0-beta.1", "nope"], range = "^1.2.0" }
// [tool.atom.examples.output]
// valid_range = ">=1.2.0 <2.0.0-0"
// sorted = ["1.2.3", "1.4.0-beta.1", "1.10.0", "2.0.0"]
// satisfying = ["1.2.3", "1.10.0"]
// max_satisfying = "1.10.0"
// invalid = ["nope"]
// ///
const semver = require("semver");

/**
 * Compare `versions` with the semver `range`.
 * @param {{versions: string[], range: string}} params
 */
function run({ versions, range }) {
  const valid = versions.filter((v) => semver.valid(v));
  const sorted = semver.sort([...valid]);
  return {
    valid_range: semver.validRange(range),
    sorted,
    satisfying: sorted.filter((v) => semver.satisfies(v, range)),
    max_satisfying: semver.maxSatisfying(valid, range),
    invalid: versions.filter((v) => !semver.valid(v)),
  };
}

module.exports = { run };
