import hashlib
import io
import json
import stat
import zipfile

import pytest

from skills.catalog.bundles import BundleInvalid, bundle_export, bundle_read
from skills.catalog.importer import skills_import, sources_from_paths
from skills.models import Skill, SkillVersion
from tests.skills.conftest import skill_source

pytestmark = pytest.mark.django_db


def make_bundle(files: dict[str, bytes], listed: dict[str, bytes] | None = None, **zip_extra):
    listed = files if listed is None else listed
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
        manifest = {
            "format": "atom-bundle/1",
            "skills": [
                {"path": name, "sha256": hashlib.sha256(data).hexdigest()}
                for name, data in listed.items()
            ],
        }
        archive.writestr("manifest.json", json.dumps(manifest))
    buffer.seek(0)
    return buffer


def errors_of(bundle) -> list[str]:
    with pytest.raises(BundleInvalid) as caught:
        bundle_read(bundle, name="upload.zip")
    return [str(error) for error in caught.value.errors]


def test_export_then_import_round_trips_every_skill(write_skill):
    write_skill("a.py", name="alpha")
    write_skill("b.py", name="beta")
    sources, _ = sources_from_paths([write_skill("c.py", name="gamma").parent])
    skills_import(sources=sources)
    buffer = io.BytesIO()

    count = bundle_export(Skill.objects.select_related("current_version"), buffer)
    buffer.seek(0)
    read = bundle_read(buffer)

    assert count == 3
    assert sorted(s.display_name for s in read) == [
        "bundle:skills/alpha.py",
        "bundle:skills/beta.py",
        "bundle:skills/gamma.py",
    ]
    originals = dict(SkillVersion.objects.values_list("skill__slug", "source"))
    assert {s.filename.removesuffix(".py"): s.data.decode() for s in read} == originals


def test_a_checksum_mismatch_is_refused():
    data = skill_source().encode()
    bundle = make_bundle({"skills/echo.py": data}, listed={"skills/echo.py": data + b"x"})
    assert errors_of(bundle) == ["upload.zip:skills/echo.py: sha256: does not match the file"]


def test_traversal_and_absolute_paths_are_refused():
    data = skill_source().encode()
    bundle = make_bundle({"../evil.py": data, "/etc/evil.py": data})
    assert errors_of(bundle) == [
        "upload.zip:../evil.py: path: '..' is not allowed in a path",
        "upload.zip:/etc/evil.py: path: absolute paths are not allowed",
    ]


def test_links_are_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        link = zipfile.ZipInfo("skills/link.py")
        link.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(link, "/etc/passwd")
        archive.writestr("manifest.json", "{}")
    buffer.seek(0)
    assert errors_of(buffer) == ["upload.zip:skills/link.py: path: links are not allowed"]


def test_a_zip_bomb_is_stopped_while_it_inflates(settings):
    settings.ATOM_BUNDLE_MAX_BYTES = 200_000
    settings.ATOM_SKILL_MAX_BYTES = 10_000_000
    bundle = make_bundle({"skills/bomb.py": b"0" * 5_000_000})
    assert errors_of(bundle) == ["upload.zip: bundle: inflates past the limit of 200000 bytes"]


def test_too_many_files_are_refused(settings):
    settings.ATOM_BUNDLE_MAX_FILES = 2
    bundle = make_bundle({f"skills/s{i}.py": b"x" for i in range(5)})
    assert errors_of(bundle) == ["upload.zip: bundle: holds 6 files, over 2"]


def test_unlisted_and_missing_files_are_refused():
    data = skill_source().encode()
    bundle = make_bundle({"skills/extra.py": data}, listed={"skills/missing.py": data})
    assert errors_of(bundle) == [
        "upload.zip:skills/missing.py: path: is listed but not in the bundle",
        "upload.zip:skills/extra.py: path: is not listed in the manifest",
    ]


def test_a_file_that_is_not_a_zip_is_refused():
    assert errors_of(io.BytesIO(b"not a zip")) == [
        "upload.zip: bundle: is not a zip file (File is not a zip file)"
    ]
