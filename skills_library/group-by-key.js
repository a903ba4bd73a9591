// /// script
// dependencies = ["lodash@^4.17.21"]
//
// [tool.atom]
// name = "group-by-key"
// version = "1.0.0"
// category = "data"
// type = "transform"
// description = "Group a list of objects by the value of one key (a dotted path), with counts."
// tags = ["group", "lodash", "aggregate"]
// entrypoint = "run"
// timeout = 10
//
// [tool.atom.inputs]
// type = "object"
// required = ["items", "key"]
// additionalProperties = false
//
// [tool.atom.inputs.properties.items]
// type = "array"
// items = { type = "object" }
//
// [tool.atom.inputs.properties.key]
// type = "string"
// minLength = 1
// description = "The key to group on; a dotted path such as owner.team reaches nested objects."
//
// [[tool.atom.examples]]
// [tool.atom.examples.input]
// key = "team"
// items = [
//     { name = "ada", team = "core" },
//     { name = "alan", team = "infra" },
//     { name = "grace", team = "core" },
// ]
// [tool.atom.examples.output]
// counts = { core = 2, infra = 1 }
// groups.core = [{ name = "ada", team = "core" }, { name = "grace", team = "core" }]
// groups.infra = [{ name = "alan", team = "infra" }]
// ///
const _ = require("lodash");

/**
 * Group `items` by the value at `key`; returns the groups and the size of each.
 * @param {{items: object[], key: string}} params
 * @returns {{groups: Object<string, object[]>, counts: Object<string, number>}}
 */
async function run({ items, key }) {
  const groups = _.groupBy(items, (item) => _.get(item, key));
  return { groups, counts: _.mapValues(groups, (group) => group.length) };
}

module.exports = { run };
