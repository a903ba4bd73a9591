import pytest

from skills.catalog.manifest import ManifestInvalid, manifest_parse
from tests.skills.conftest import skill_source


def parse(text: str, filename: str = "echo-text.py"):
    return manifest_parse(text.encode(), filename=filename)


def errors_of(text: str, filename: str = "echo-text.py") -> list[str]:
    with pytest.raises(ManifestInvalid) as caught:
        parse(text, filename)
    return [str(error) for error in caught.value.errors]


def test_it_reads_the_pep_723_block_and_the_atom_table():
    manifest = parse(
        skill_source(
            dependencies=["python-slugify>=8", "Requests[socks]>=2.31"],
            extra='# timeout = 5\n# [tool.atom.inputs]\n# type = "object"\n',
        )
    )
    assert manifest.name == "echo-text"
    assert manifest.version == "1.0.0"
    assert (manifest.category, manifest.type, manifest.language) == ("text", "transform", "python")
    assert manifest.dependencies == ["python-slugify>=8", "Requests[socks]>=2.31"]
    assert manifest.requires_python == ">=3.12"
    assert manifest.timeout == 5.0
    assert manifest.inputs == {"type": "object"}
    assert manifest.entrypoint == "run"
    assert len(manifest.content_hash) == 64


def test_it_never_runs_the_code():
    manifest = parse(skill_source(body="raise SystemExit('imported!')\ndef run():\n    pass\n"))
    assert manifest.name == "echo-text"


def test_a_file_without_a_block_is_refused_with_line_and_field():
    assert errors_of("def run():\n    pass\n") == [
        "echo-text.py:1: script: no `/// script` metadata block"
    ]


def test_an_unclosed_block_is_refused():
    text = skill_source().replace("# ///\n", "")
    assert errors_of(text) == ["echo-text.py:1: script: the `/// script` block is not closed"]


def test_bad_toml_names_the_line():
    text = skill_source().replace('# tags = ["demo"]', "# tags = [demo")
    (error,) = errors_of(text)
    assert error.startswith("echo-text.py:11: script: TOML does not parse")


def test_every_bad_field_is_listed_with_its_line():
    text = skill_source(name="Bad_Name", version="one", type="magic", dependencies=["-e ."])
    assert errors_of(text) == [
        "echo-text.py:6: tool.atom.name: 'Bad_Name' is not a slug (lowercase letters, digits "
        "and single hyphens, 2 to 64 characters, starting with a letter)",
        "echo-text.py:7: tool.atom.version: 'one' is not a PEP 440 version",
        "echo-text.py:9: tool.atom.type: 'magic' is not one of transform, extract, analyze, "
        "generate, fetch, validate, utility",
        "echo-text.py:3: dependencies: '-e .': installer options are not allowed "
        "(rule valid-requirement)",
    ]


@pytest.mark.parametrize(
    ("requirement", "reason"),
    [
        ("requests @ https://evil.example/requests.whl", "direct URLs and VCS references"),
        ("git+https://github.com/psf/requests", "direct URLs and VCS references"),
        ("../local/package", "local paths are not allowed"),
        ("--index-url=https://evil.example", "installer options are not allowed"),
        ("requests>=>2", "is not a valid requirement"),
    ],
)
def test_unsafe_or_invalid_requirements_are_refused(requirement, reason):
    (error,) = errors_of(skill_source(dependencies=[requirement]))
    assert error.startswith(f"echo-text.py:3: dependencies: {requirement!r}: {reason}")


def test_a_missing_entrypoint_is_refused():
    text = skill_source(extra='# entrypoint = "main"\n')
    assert errors_of(text) == [
        "echo-text.py:12: tool.atom.entrypoint: the file defines no top-level function 'main'"
    ]


def test_a_syntax_error_is_reported_without_running_anything():
    (error,) = errors_of(skill_source(body="def run(:\n"))
    assert error == "echo-text.py:13: source: syntax error: invalid syntax"


def test_a_missing_required_field_is_named():
    text = skill_source().replace('# category = "text"\n', "")
    assert errors_of(text) == ["echo-text.py:5: tool.atom.category: is required"]


def test_a_non_utf8_file_is_refused():
    data = skill_source().encode() + b"# caf\xe9\n"
    with pytest.raises(ManifestInvalid) as caught:
        manifest_parse(data, filename="echo-text.py")
    assert [str(e) for e in caught.value.errors] == [
        "echo-text.py:15: file: is not UTF-8 (byte 295)"
    ]


def test_a_file_over_the_size_limit_is_refused(settings):
    settings.ATOM_SKILL_MAX_BYTES = 2048
    text = skill_source(body="def run():\n    pass\n" + "# padding\n" * 300)
    (error,) = errors_of(text)
    assert error == (
        f"echo-text.py: file: is {len(text)} bytes, over the limit of 2048 bytes"
        " (ATOM_SKILL_MAX_BYTES)"
    )


def test_an_invalid_inputs_schema_is_refused():
    text = skill_source(extra='# [tool.atom.inputs]\n# type = "nonsense"\n')
    (error,) = errors_of(text)
    assert error.startswith("echo-text.py:12: tool.atom.inputs: is not a valid JSON Schema")


def test_a_node_skill_uses_slash_comments_and_npm_ranges():
    text = (
        "// /// script\n"
        '// dependencies = ["lodash@^4.17.21", "semver"]\n'
        "//\n"
        "// [tool.atom]\n"
        '// name = "group-by"\n'
        '// version = "1.0.0"\n'
        '// category = "data"\n'
        '// type = "transform"\n'
        '// description = "Group items."\n'
        "// ///\n"
        "const _ = require('lodash');\n"
        "async function run({ items, key }) { return _.groupBy(items, key); }\n"
        "module.exports = { run };\n"
    )
    manifest = parse(text, "group-by.js")
    assert manifest.language == "node"
    assert manifest.dependencies == ["lodash@^4.17.21", "semver@*"]


def test_a_node_skill_must_export_its_entrypoint():
    text = (
        '// /// script\n// [tool.atom]\n// name = "group-by"\n// version = "1.0.0"\n'
        '// category = "data"\n// type = "transform"\n// description = "x"\n// ///\n'
        "function run() {}\n"
    )
    (error,) = errors_of(text, "group-by.js")
    assert error == "group-by.js:1: tool.atom.entrypoint: the file does not export a function 'run'"
