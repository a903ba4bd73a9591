"""Node skills through runner.js: the same protocol, limits and hot reload."""

import pytest

from skills.runtime import CallLimits
from tests.skills.runtime.conftest import NODE, content_hash

pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed")


@pytest.fixture
def node_pool(make_registry):
    return make_registry().pool_for("test-node", NODE, "node")


def test_a_commonjs_skill_gets_one_params_object_and_may_be_async(node_pool, write_skill):
    path = write_skill(
        "group.js",
        """
        async function run({ items, key }) {
          console.log("grouping", items.length);
          const groups = {};
          for (const item of items) (groups[item[key]] ||= []).push(item.name);
          return groups;
        }
        module.exports = { run };
        """,
    )
    items = [{"kind": "fruit", "name": "apple"}, {"kind": "veg", "name": "leek"}]

    result = node_pool.call(skill_id="group", path=path, params={"items": items, "key": "kind"})

    assert result.ok is True
    assert result.result == {"fruit": ["apple"], "veg": ["leek"]}
    assert result.stdout.text == "grouping 2\n"
    assert (result.cache, result.content_hash) == ("loaded", content_hash(path))


def test_an_es_module_skill_runs(node_pool, write_skill):
    path = write_skill("double.mjs", "export function run({ n }) {\n  return n * 2;\n}\n")

    assert node_pool.call(skill_id="double", path=path, params={"n": 21}).result == 42


def test_an_edited_node_skill_runs_its_new_code_in_a_runner_of_its_own(node_pool, write_skill):
    path = write_skill("v.js", "exports.run = () => 'one';\n")
    first = node_pool.call(skill_id="v", path=path, content_hash=content_hash(path))
    path.write_text("exports.run = () => 'two';\n")

    second = node_pool.call(skill_id="v", path=path, content_hash=content_hash(path))

    assert (first.result, second.result, second.cache) == ("one", "two", "reloaded")
    assert first.runner_pid != second.runner_pid


def test_a_node_skill_that_throws_returns_its_error_and_stack(node_pool, write_skill):
    path = write_skill(
        "throws.js", "exports.run = () => {\n  throw new RangeError('out of range');\n};\n"
    )

    result = node_pool.call(skill_id="throws", path=path)

    assert (result.error.type, result.error.message) == ("RangeError", "out of range")
    assert f"{path}:2" in result.error.traceback


def test_a_node_result_json_cannot_encode_is_a_clear_error(node_pool, write_skill):
    path = write_skill("big.js", "exports.run = () => ({ n: 10n });\n")

    result = node_pool.call(skill_id="big", path=path)

    assert result.error.type == "ResultNotSerializable"
    assert "BigInt" in result.error.message


def test_a_node_skill_that_loops_forever_is_killed_and_replaced(node_pool, write_skill):
    looping = write_skill("loop.js", "exports.run = () => { for (;;) {} };\n")
    quick = write_skill("quick.js", "exports.run = () => 'fine';\n")

    result = node_pool.call(skill_id="loop", path=looping, limits=CallLimits(timeout=0.5))

    assert result.error.type == "TimeoutError"
    assert result.is_runner_replaced is True
    assert node_pool.call(skill_id="quick", path=quick).result == "fine"


def test_a_node_skill_without_the_entrypoint_says_so(node_pool, write_skill):
    path = write_skill("none.js", "exports.other = () => 1;\n")

    result = node_pool.call(skill_id="none", path=path)

    assert (result.error.type, result.error.message) == (
        "EntrypointNotFound",
        f"{path} exports no function run",
    )
