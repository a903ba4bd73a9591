"""Workflow files imported like skills: all or nothing, each error naming file, line, step and
field; safe YAML only; unchanged files write nothing; a changed file is a new version."""

from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from workflows.library import WorkflowImportRefused, sources_from_paths, workflows_import
from workflows.models import Workflow, WorkflowVersion

pytestmark = pytest.mark.django_db

GOOD = """\
name: Text report
description: Shout and count.
inputs:
  type: object
  properties:
    text: {type: string}
steps:
  - id: first
    skill: upper-text
    params:
      text: {$ref: inputs.text}
  - id: count
    skill: count-words
    params: {text: words, top: 2}
    depends_on: [first]
"""

BAD = """\
name: Broken
steps:
  - id: a
    skill: upper-text
    params: {text: x}
    depends_on: [b]
  - id: b
    skill: upper-text
    params:
      text: x
    depends_on: [a]
  - id: c
    skill: no-such-skill
  - id: d
    skill: count-words
    params:
      text: ""
    timeout_seconds: 99999
"""


def write(folder: Path, name: str, text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text)
    return path


def import_folder(folder: Path):
    sources, errors = sources_from_paths([folder])
    return workflows_import(sources=sources, errors=errors)


def refused_errors(folder: Path) -> list[str]:
    with pytest.raises(WorkflowImportRefused) as refused:
        import_folder(folder)
    return [str(error) for error in refused.value.errors]


def test_an_import_names_file_line_step_and_field_and_writes_nothing(catalog, tmp_path):
    write(tmp_path, "good.yaml", GOOD)
    write(tmp_path, "bad.yaml", BAD)

    errors = refused_errors(tmp_path)

    assert errors == [
        "bad.yaml:6: step 'a': depends_on: cycle: a → b → a",
        "bad.yaml:13: step 'c': skill: no skill 'no-such-skill' in the catalog",
        "bad.yaml:16: step 'd': params.text: '' should be non-empty (skill count-words 1.0.0)",
        "bad.yaml:18: step 'd': timeout_seconds: 99999 s is over the maximum of 600 s",
    ]
    assert Workflow.objects.count() == 0


def test_unchanged_files_write_nothing_and_a_changed_one_is_a_new_version(catalog, tmp_path):
    path = write(tmp_path, "report.yaml", GOOD)
    assert import_folder(tmp_path).created == ["text-report"]

    again = import_folder(tmp_path)
    assert (again.created, again.updated, again.unchanged) == ([], [], ["text-report"])
    assert WorkflowVersion.objects.count() == 1

    path.write_text(GOOD.replace("version: ", "").replace("Shout and count.", "Louder."))
    changed = import_folder(tmp_path)
    assert changed.updated == ["text-report"]
    workflow = Workflow.objects.get()
    assert workflow.description == "Louder."
    assert workflow.versions.count() == 2
    assert workflow.current_version.definition["description"] == "Louder."


def test_yaml_tags_that_build_objects_are_refused_and_never_run(catalog, tmp_path):
    marker = tmp_path / "ran"
    write(tmp_path / "in", "evil.yaml",
          f"name: Evil\nsteps: !!python/object/apply:os.system ['touch {marker}']\n")  # fmt: skip

    errors = refused_errors(tmp_path / "in")

    assert len(errors) == 1
    assert errors[0].startswith("evil.yaml:2: file: not valid YAML: could not determine a ")
    assert "tags that build objects are refused" in errors[0]
    assert not marker.exists()


def test_a_file_that_is_not_a_mapping_is_refused(catalog, tmp_path):
    write(tmp_path, "list.yaml", "- id: a\n  skill: upper-text\n")
    assert refused_errors(tmp_path) == [
        "list.yaml: definition: a workflow definition is a mapping (JSON object), not list"
    ]


def test_anchors_and_aliases_are_refused(catalog, tmp_path):
    write(tmp_path, "bomb.yaml",
          "name: Bomb\na: &a [x, x, x]\nb: &b [*a, *a, *a]\nsteps: [*b, *b]\n")  # fmt: skip
    assert refused_errors(tmp_path) == [
        "bomb.yaml:2: file: YAML anchors and aliases are not accepted"
    ]


def test_invalid_yaml_names_its_line(catalog, tmp_path):
    write(tmp_path, "broken.yaml", "name: Broken\nsteps:\n  - id: [unclosed\n")
    (error,) = refused_errors(tmp_path)
    assert error.startswith("broken.yaml:4: file: not valid YAML:")


def test_two_files_naming_one_workflow_are_refused(catalog, tmp_path):
    write(tmp_path, "one.yaml", GOOD)
    write(tmp_path, "two.yaml", GOOD)
    assert refused_errors(tmp_path) == [
        "two.yaml: slug: workflow 'text-report' is also defined in one.yaml"
    ]


def test_a_file_naming_a_workflow_imported_from_another_file_is_refused(catalog, tmp_path):
    write(tmp_path / "first", "report.yaml", GOOD)
    import_folder(tmp_path / "first")
    write(tmp_path / "second", "other.yaml", GOOD.replace("Shout", "Whisper"))

    (error,) = refused_errors(tmp_path / "second")

    assert error.startswith("other.yaml: slug: workflow 'text-report' ('Text report') was ")
    assert WorkflowVersion.objects.count() == 1


def test_the_command_imports_lists_validates_and_exports(catalog, tmp_path, capsys, settings):
    settings.ATOM_WORKFLOWS_DIR = tmp_path / "library"
    write(tmp_path / "library", "report.yaml", GOOD)

    call_command("workflows", "import")
    call_command("workflows", "list")
    call_command("workflows", "validate", "text-report", str(tmp_path / "library"))
    call_command("workflows", "export", "-o", str(tmp_path / "out"))
    out = capsys.readouterr().out

    assert "Imported 1 file(s): 1 created, 0 new version(s), 0 unchanged" in out
    assert "text-report  1.0.0    2      active  Text report" in out
    assert "text-report: valid; 2 steps, depth 2, width 1, critical path first → count" in out
    assert "report.yaml: valid; 2 steps" in out
    exported = (tmp_path / "out" / "text-report.yaml").read_text()
    write(tmp_path / "back", "report.yaml", exported)
    assert import_folder(tmp_path / "back").unchanged == ["text-report"]


def test_the_command_fails_listing_every_error(catalog, tmp_path, capsys):
    write(tmp_path, "bad.yaml", BAD)
    with pytest.raises(CommandError, match="nothing imported: 4 error"):
        call_command("workflows", "import", str(tmp_path))
    assert "bad.yaml:6: step 'a': depends_on: cycle: a → b → a" in capsys.readouterr().err
    with pytest.raises(CommandError, match="1 invalid workflow"):
        call_command("workflows", "validate", str(tmp_path / "bad.yaml"))


def test_the_demo_workflows_import_against_the_demo_catalog(db, settings):
    from django.conf import settings as django_settings

    from atom_site.demo import demo_load
    from workflows.library import workflows_demo_load

    settings.ATOM_SKILLS_DIR = Path(django_settings.BASE_DIR) / "skills_library"
    settings.ATOM_WORKFLOWS_DIR = Path(django_settings.BASE_DIR) / "workflows_library"
    demo_load()
    assert workflows_demo_load() == (
        f"Demo workflows from {settings.ATOM_WORKFLOWS_DIR}: 3 created, 0 new version(s), "
        "0 unchanged."
    )
    assert sorted(Workflow.objects.values_list("slug", flat=True)) == [
        "csv-profile", "name-to-identifiers", "page-report"
    ]  # fmt: skip
