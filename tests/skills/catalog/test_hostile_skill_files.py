"""Skill files from anywhere: each parses, or is refused with ManifestInvalid whose every error
names the file, a field and a reason; never an unhandled exception, and quickly.

Property tests over arbitrary bytes and text and over almost-valid PEP 723 blocks, then the
large and hostile inputs the sweep tried, one test each (see docs/reliability.md).
"""

import json
import math
import time

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from skills.catalog.manifest import (
    MAX_NESTING,
    SLUG,
    ManifestInvalid,
    SkillManifest,
    manifest_parse,
)
from skills.policy import Policy
from tests.skills.conftest import skill_source

POLICY = Policy(
    allow=frozenset(), deny=frozenset({"pyyaml"}), max_requirements=5, allow_network=False
)
SECONDS = 2.0  # far above what any one file takes; the hangs found took minutes


def outcome(data: bytes, filename: str = "hostile.py") -> SkillManifest | list:
    """The manifest, or the errors; fails on anything else or on a slow answer."""
    started = time.perf_counter()
    try:
        manifest = manifest_parse(data, filename=filename, policy=POLICY)
    except ManifestInvalid as invalid:
        errors = invalid.errors
    else:
        errors = None
    assert time.perf_counter() - started < SECONDS
    if errors is None:
        assert SLUG.fullmatch(manifest.name)
        assert SLUG.fullmatch(manifest.category)
        assert manifest.filename == filename
        return manifest
    assert errors
    for error in errors:
        assert error.file == filename
        assert error.field
        assert error.message
    return errors


def fields_of(result) -> list[tuple[str, str]]:
    assert isinstance(result, list), result
    return [(error.field, error.message) for error in result]


# Arbitrary input -----------------------------------------------------------------------------

filenames = st.sampled_from(["hostile.py", "hostile.js", "hostile.mjs", "hostile.txt", ".py", ""])


@settings(max_examples=200)
@given(data=st.binary(max_size=2000), filename=filenames)
def test_any_bytes_are_a_skill_or_a_refusal(data, filename):
    outcome(data, filename)


@settings(max_examples=200)
@given(
    text=st.text(st.characters(codec=None, categories=None), max_size=2000),
    filename=filenames,
)
def test_any_text_is_a_skill_or_a_refusal(text, filename):
    # Lone surrogates become bytes that are not UTF-8.
    outcome(text.encode("utf-8", "surrogatepass"), filename)


# Almost-valid PEP 723 blocks -----------------------------------------------------------------

unicode_text = st.text(st.characters(codec="utf-8"), max_size=40)
toml_key = st.one_of(
    st.from_regex(r"[A-Za-z0-9_-]{1,12}", fullmatch=True),
    st.sampled_from(
        ["name", "version", "type", "tags", "inputs", "examples", "timeout", "tool", "atom"]
    ),
    unicode_text.map(lambda key: json.dumps(key, ensure_ascii=False)),  # a quoted key
)
toml_scalar = st.one_of(
    unicode_text,
    st.text(max_size=3000),  # huge names and descriptions
    st.integers(),
    st.integers(1, 6000).map(lambda digits: int("9" * min(digits, 4300))),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
)
toml_value = st.recursive(
    toml_scalar,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(toml_key, inner, max_size=4)
    ),
    max_leaves=12,
)


def toml(value) -> str:
    """A value written as a TOML inline value (strings as JSON, which TOML reads)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return (
            "nan"
            if math.isnan(value)
            else ("inf" if value > 0 else "-inf")
            if math.isinf(value)
            else repr(value)
        )
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml(item) for item in value) + "]"
    return "{" + ", ".join(f"{key} = {toml(item)}" for key, item in value.items()) + "}"


VALID_ATOM = {
    "name": "echo-text",
    "version": "1.0.0",
    "category": "text",
    "type": "transform",
    "description": "Return the text.",
    "tags": ["demo"],
}
known_atom_key = st.sampled_from([*VALID_ATOM, "entrypoint", "timeout", "memory_mb", "network"])


@st.composite
def almost_valid_blocks(draw) -> tuple[bytes, str]:
    """A valid skill with some of: fields overwritten with any value or type, unknown and
    duplicate keys, nested tables, a broken line, a missing end."""
    language = draw(st.sampled_from(["python", "node"]))
    prefix, filename = ("#", "hostile.py") if language == "python" else ("//", "hostile.js")
    atom = dict(VALID_ATOM)
    for key in draw(st.lists(known_atom_key, max_size=3)):
        atom[key] = draw(toml_value)
    lines = [
        f"requires-python = {toml(draw(st.sampled_from(['>=3.12', '', '>=3.12,<', 3.12])))}",
        "dependencies = "
        + toml(
            draw(
                st.lists(
                    st.one_of(
                        st.sampled_from(
                            ["numpy>=1", "pyyaml", "lodash@^4", "x; python_version ~= '1'"]
                        ),
                        unicode_text,
                    ),
                    max_size=7,
                )
            )
        ),
        "[tool.atom]",
        *(f"{key} = {toml(value)}" for key, value in atom.items()),
    ]
    for key, value in draw(st.lists(st.tuples(toml_key, toml_value), max_size=3)):
        lines.append(f"{key} = {toml(value)}")  # unknown, or a duplicate of a known key
    if draw(st.booleans()):
        lines += ["[tool.atom.inputs]", 'type = "object"']
        for key, value in draw(st.dictionaries(toml_key, toml_value, max_size=3)).items():
            lines.append(f"properties.{key} = {toml(value)}")
    if draw(st.booleans()):
        lines += ["[[tool.atom.examples]]", f"input = {toml(draw(toml_value))}"]
    if draw(st.booleans()):
        header = ".".join(draw(st.lists(toml_key, min_size=1, max_size=40)))
        lines += [f"[{header}]", f"leaf = {toml(draw(toml_value))}"]
    block = [f"{prefix} /// script", *(f"{prefix} {line}" for line in lines), f"{prefix} ///"]
    if draw(st.integers(0, 9)) == 0 and len(block) > 2:  # a line without its prefix, or no end
        index = draw(st.integers(1, len(block) - 1))
        block[index] = draw(st.sampled_from(["", block[index].lstrip("#/"), "x"]))
    entrypoint = draw(st.sampled_from(["run", "main"]))
    if language == "python":
        code = f"def {entrypoint}(text=''):\n    return {{'text': text}}\n"
    else:
        code = f"module.exports = {{ {entrypoint} }};\nfunction {entrypoint}() {{}}\n"
    return ("\n".join(block) + "\n" + code).encode("utf-8", "surrogatepass"), filename


@settings(max_examples=300)
@given(block=almost_valid_blocks())
@example(block=(skill_source(extra='# [""]\n# leaf = ""\n').encode(), "hostile.py"))
def test_an_almost_valid_block_parses_or_names_each_field_at_fault(block):
    data, filename = block
    outcome(data, filename)


# Large and hostile inputs ------------------------------------------------------------------


def block(lines: list[str], body: str = "def run():\n    pass\n") -> bytes:
    atom = [f"{key} = {toml(value)}" for key, value in VALID_ATOM.items()]
    text = "\n".join(f"# {line}" for line in ["[tool.atom]", *atom, *lines])
    return f"# /// script\n{text}\n# ///\n{body}".encode()


def test_a_ten_megabyte_file_is_refused_by_its_size_naming_the_setting():
    result = outcome(b"# " + b"x" * 10_000_000)
    assert fields_of(result) == [
        ("file", "is 10000002 bytes, over the limit of 1000000 bytes (ATOM_SKILL_MAX_BYTES)")
    ]


@pytest.mark.parametrize(
    "value",
    ["[" * 10_000 + "]" * 10_000, "{a = " * 10_000 + "1" + "}" * 10_000],
    ids=["arrays", "inline-tables"],
)
def test_toml_nested_ten_thousand_deep_is_refused_not_a_recursion_error(value):
    result = outcome(block([f"deep = {value}"]))
    assert fields_of(result) == [("script", "TOML nests too deeply to parse")]


def test_tables_nested_past_the_limit_are_refused_naming_the_field():
    # Headers nest without tomllib recursing; jsonschema's check then recursed past the limit.
    header = "tool.atom.inputs" + ".properties.a" * 5_000
    result = outcome(block([f"[{header}]", 'type = "string"']))
    assert fields_of(result) == [("tool.atom.inputs", f"nests deeper than {MAX_NESTING} levels")]


def test_an_example_nested_past_the_limit_is_refused_naming_the_field():
    # JSON-like values nested in an example: stored as JSON, and JSON encoding recursed.
    nested = "{a = " * 100 + "1" + "}" * 100
    result = outcome(block(["[[tool.atom.examples]]", f"input = {nested}"]))
    assert fields_of(result) == [("tool.atom.examples", f"nests deeper than {MAX_NESTING} levels")]


def test_nesting_up_to_the_limit_is_accepted():
    schema = "tool.atom.inputs" + ".properties.a" * 14
    manifest = outcome(block([f"[{schema}]", 'type = "string"']))
    assert isinstance(manifest, SkillManifest)


def test_an_integer_past_python_s_digit_limit_is_a_toml_error():
    (error,) = outcome(block(["timeout = " + "9" * 5000]))
    assert (error.field, error.message[:22]) == ("script", "TOML does not parse: E")


def test_an_integer_too_large_for_a_float_is_a_timeout_out_of_range():
    (error,) = outcome(block(["timeout = " + "9" * 400]))
    assert (error.field, error.message) == (
        "tool.atom.timeout",
        "must be a number of seconds from 0.1 to 3600",
    )


def test_a_version_with_a_number_past_the_digit_limit_is_not_pep_440():
    data = block([]).replace(b'version = "1.0.0"', b'version = "' + b"9" * 5000 + b'"')
    (error,) = outcome(data)
    assert error.field == "tool.atom.version"
    assert error.message.endswith("is not a PEP 440 version")


@pytest.mark.parametrize(
    "body",
    [
        "x = " + "-" * 100_000 + "1\ndef run():\n    pass\n",
        "x = a" + ".a" * 200_000 + "\ndef run():\n    pass\n",
        "x = " + "lambda: " * 10_000 + "1\ndef run():\n    pass\n",
    ],
    ids=["unary", "attributes", "lambdas"],
)
def test_python_code_nested_past_the_parser_is_refused_naming_the_source(body):
    result = outcome(block([], body=body))
    assert fields_of(result) == [("source", "is nested too deeply to parse")]


def test_a_node_file_of_open_export_lists_is_scanned_in_linear_time():
    # `[^}]*` rescanned to the end from every `module.exports = {`: 540 KB took 115 s.
    body = "module.exports = {" * 30_000 + "\nexport {" * 20_000
    data = block([], body=body).replace(b"# ", b"// ").replace(b"#", b"//")
    result = outcome(data, "hostile.js")
    assert fields_of(result) == [
        ("tool.atom.entrypoint", "the file does not export a function 'run'")
    ]


def test_node_export_lists_still_export_their_names():
    for body in [
        "module.exports = { helper, run };",
        "export { run, other }",
        "module.exports = {\n  run,\n  helpers: { a },\n};",
    ]:
        data = block([], body=body).replace(b"# ", b"// ")
        assert isinstance(outcome(data, "ok.js"), SkillManifest), body


def test_thousands_of_unknown_fields_are_counted_not_each_searched():
    lines = [f"field{number} = {number}" for number in range(30_000)]
    result = outcome(block(lines))
    assert len(result) == 11
    assert (result[-1].field, result[-1].message) == ("script", "and 29990 more unknown fields")


def test_a_line_of_brackets_does_not_slow_the_field_search():
    # `\[+[^\]]*` shared the brackets of `[[[[…` and backtracked quadratically while looking
    # for the line of `note` (50,000 brackets: 55 s).
    lines = ['text = """', "[" * 50_000, '"""', "note = 1"]
    result = outcome(block(lines))
    assert fields_of(result) == [
        ("tool.atom.note", "is not a known field"),
        ("tool.atom.text", "is not a known field"),
    ]


# Unicode in names ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "\u200fecho-text",  # a right-to-left mark
        "echo\u200d-text",  # a zero-width joiner
        "echo-te\u0301xt",  # a combining acute accent
        "\u0435cho-text",  # a Cyrillic е, confusable with e
        "ｅｃｈｏ-text",  # fullwidth letters
        "echo-text\u202e",  # a right-to-left override
        "ech\u0131-text",  # a dotless ı
        "e\x00cho",
    ],
)
def test_a_name_with_invisible_or_confusable_characters_is_not_a_slug(name):
    data = block([]).replace(b'name = "echo-text"', f"name = {toml(name)}".encode())
    (error,) = outcome(data)
    assert error.field == "tool.atom.name"
    assert error.message.endswith(
        "is not a slug (lowercase letters, digits and single hyphens, 2 to 64 characters,"
        " starting with a letter)"
    )


def test_whitespace_around_a_name_is_dropped_unicode_spaces_included():
    data = block([]).replace(b'name = "echo-text"', 'name = "\u3000 echo-text\u2003\t"'.encode())
    assert outcome(data).name == "echo-text"


def test_a_tag_ending_in_a_newline_is_not_a_slug():
    source = skill_source().replace('tags = ["demo"]', 'tags = ["demo\\n"]')
    (error,) = outcome(source.encode(), "echo-text.py")
    assert (error.field, error.message) == ("tool.atom.tags", "'demo\\n' is not a slug")


def test_an_unknown_field_that_is_not_a_bare_key_is_named_quoted():
    # The field of `[""]` was "", naming nothing.
    result = outcome(block(['[""]', "a = 1", '["tool".atom."my field"]', "b = 2"]))
    assert fields_of(result) == [
        ('""', "is not a known field"),
        ('tool.atom."my field"', "is not a known field"),
    ]
