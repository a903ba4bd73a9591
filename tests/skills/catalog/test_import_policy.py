"""The requirement policy is applied at import: a skill the installer would refuse never enters
the catalog, whichever way it comes in (function, command, API, admin, watcher)."""

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError

from skills.catalog.importer import ImportRefused, SkillSource, skills_import
from skills.catalog.watcher import skill_file_sync
from skills.models import Skill, SkillHistory, SkillVersion
from tests.skills.conftest import skill_source

pytestmark = pytest.mark.django_db


def catalog_state() -> tuple:
    return (
        sorted(Skill.objects.values_list("slug", "content_hash", "status", "current_version")),
        SkillVersion.objects.count(),
        SkillHistory.objects.count(),
    )


def refused_errors(*texts: tuple[str, str]) -> list:
    sources = [SkillSource(name, name, text.encode()) for name, text in texts]
    with pytest.raises(ImportRefused) as refused:
        skills_import(sources=sources)
    return [
        (error.file, error.line, error.field, error.rule, error.message)
        for error in refused.value.errors
    ]


def test_a_denied_package_refuses_the_import_naming_file_field_and_rule(settings):
    settings.ATOM_POLICY_DENY = ["PyYAML"]

    errors = refused_errors(
        ("ok.py", skill_source(name="ok", dependencies=["six"])),
        ("yaml.py", skill_source(name="yaml-skill", dependencies=["six", "pyyaml>=6"])),
    )

    assert errors == [
        (
            "yaml.py",
            3,
            "dependencies",
            "deny-list",
            "'pyyaml>=6': pyyaml is on the deny-list (rule deny-list)",
        )
    ]
    assert catalog_state() == ([], 0, 0)


def test_an_allow_list_refuses_every_other_package(settings):
    settings.ATOM_POLICY_ALLOW = ["six"]

    errors = refused_errors(("req.py", skill_source(dependencies=["six", "requests>=2"])))

    assert errors == [
        (
            "req.py",
            3,
            "dependencies",
            "allow-list",
            "'requests>=2': requests is not on the allow-list (rule allow-list)",
        )
    ]
    assert catalog_state() == ([], 0, 0)


def test_an_allow_list_applies_to_node_skills_too(settings):
    settings.ATOM_POLICY_ALLOW = ["lodash"]
    text = (
        "// /// script\n"
        '// dependencies = ["lodash@^4", "left-pad@1"]\n'
        "// [tool.atom]\n"
        '// name = "pad"\n// version = "1.0.0"\n// category = "text"\n'
        '// type = "transform"\n// description = "Pad."\n'
        "// ///\n"
        "function run() { return {}; }\nmodule.exports = { run };\n"
    )

    errors = refused_errors(("pad.js", text))

    assert errors == [
        (
            "pad.js",
            2,
            "dependencies",
            "allow-list",
            "'left-pad@1': left-pad is not on the allow-list (rule allow-list)",
        )
    ]


def test_more_requirements_than_the_policy_allows_are_refused(settings):
    settings.ATOM_POLICY_MAX_REQUIREMENTS = 2

    errors = refused_errors(("many.py", skill_source(dependencies=["six", "idna", "attrs"])))

    assert errors == [
        (
            "many.py",
            3,
            "dependencies",
            "max-requirements",
            "3 requirements, the policy allows at most 2 per skill (rule max-requirements)",
        )
    ]
    assert catalog_state() == ([], 0, 0)


def test_an_invalid_requirement_is_refused_under_the_rule_valid_requirement():
    errors = refused_errors(("vcs.py", skill_source(dependencies=["git+https://x.example/r.git"])))

    assert [error[:4] for error in errors] == [("vcs.py", 3, "dependencies", "valid-requirement")]
    assert errors[0][4].endswith("(rule valid-requirement)")
    assert catalog_state() == ([], 0, 0)


def test_an_update_to_a_denied_package_keeps_the_published_version(settings):
    skills_import(
        sources=[SkillSource("s.py", "s.py", skill_source(dependencies=["six"]).encode())]
    )
    before = catalog_state()
    settings.ATOM_POLICY_DENY = ["requests"]
    changed = skill_source(version="1.1.0", dependencies=["requests"])

    with pytest.raises(ImportRefused):
        skills_import(sources=[SkillSource("s.py", "s.py", changed.encode())])

    assert catalog_state() == before


def test_the_command_exits_non_zero_naming_the_rule(settings, tmp_path, capsys):
    settings.ATOM_POLICY_DENY = ["six"]
    path = tmp_path / "six.py"
    path.write_text(skill_source(dependencies=["six"]))

    with pytest.raises(CommandError, match="nothing imported: 1 error"):
        call_command("skills", "import", str(path))

    assert capsys.readouterr().err.strip() == (
        f"{path}:3: dependencies: 'six': six is on the deny-list (rule deny-list)"
    )
    assert catalog_state() == ([], 0, 0)


def test_the_command_really_exits_with_a_non_zero_status(
    settings, tmp_path, manage_py, process_env
):
    import subprocess

    path = tmp_path / "six.py"
    path.write_text(skill_source(dependencies=["six"]))

    result = subprocess.run(
        [*manage_py, "skills", "import", str(path)],
        env={**process_env, "ATOM_POLICY_DENY": "six"},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert "dependencies: 'six': six is on the deny-list (rule deny-list)" in result.stderr
    assert catalog_state() == ([], 0, 0)


def test_the_api_answers_422_with_the_rule(settings, client):
    settings.ATOM_POLICY_DENY = ["six"]
    client.force_login(get_user_model().objects.create_user("s", password="pw", is_staff=True))
    upload = SimpleUploadedFile("six.py", skill_source(dependencies=["six"]).encode())

    response = client.post("/api/skills/import", {"files": [upload]})

    assert response.status_code == 422
    assert response.json()["errors"] == [
        {
            "file": "six.py",
            "line": 3,
            "field": "dependencies",
            "message": "'six': six is on the deny-list (rule deny-list)",
            "rule": "deny-list",
        }
    ]
    assert catalog_state() == ([], 0, 0)


def test_the_admin_import_page_shows_the_refusal(settings, client):
    settings.ATOM_POLICY_DENY = ["six"]
    client.force_login(get_user_model().objects.create_superuser("root", "r@example.com", "pw"))
    upload = SimpleUploadedFile("six.py", skill_source(dependencies=["six"]).encode())

    response = client.post("/admin/skills/skill/import/", {"files": [upload]})

    assert response.status_code == 200
    assert b"Nothing imported: 1 error(s)." in response.content
    assert b"&#x27;six&#x27;: six is on the deny-list (rule deny-list)" in response.content
    assert catalog_state() == ([], 0, 0)


def test_the_watcher_records_the_refusal_and_keeps_the_previous_version(settings, tmp_path):
    path = tmp_path / "echo.py"
    path.write_text(skill_source(dependencies=["six"]))
    assert skill_file_sync(path).action == "created"
    version = Skill.objects.get().current_version_id
    settings.ATOM_POLICY_DENY = ["requests"]

    path.write_text(skill_source(version="1.1.0", dependencies=["requests"]))
    outcome = skill_file_sync(path)

    skill = Skill.objects.get()
    assert outcome.action == "rejected"
    assert skill.current_version_id == version
    assert skill.versions.count() == 1
    assert skill.last_error == (
        f"{path}:3: dependencies: 'requests': requests is on the deny-list (rule deny-list)"
    )
    assert skill.history.first().action == "rejected"
