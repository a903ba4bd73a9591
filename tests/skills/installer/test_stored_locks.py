"""Kept locks: checked before they are written and when they are read, kept only once an
environment installed from them and verified, and replaced when they no longer install."""

import pytest

from skills.installer.backends import VerificationError
from skills.installer.builder import environment_ensure, spec_for
from skills.installer.keys import lock_key
from skills.installer.locks import (
    NPM,
    REQUIREMENTS,
    LockInvalid,
    lock_check,
    lock_load,
    lock_path,
    lock_save,
)
from skills.models import Environment
from tests.skills.installer.conftest import unique_requirement

pytestmark = pytest.mark.django_db

UV_LOCK = """\
colorama==0.4.6 ; sys_platform == 'win32' \\
    --hash=sha256:08695f5cb7ed6e0531a20572697297273c47b8cae5a63ffc6d6ed5c201be6e44
    # via click
iniconfig==2.0.0 \\
    --hash=sha256:2d91e135bf72d31a410b17c16da610a82cb55f6b0477d1a902134b24a455b8b3 \\
    --hash=sha256:b6a85871a79d2e3b22d2d1b94ac2824226a63c6b741c88f7ae975f18b6778374
    # via -r -
"""
SIX_HASH = "8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254"
INICONFIG_HASH = "2d91e135bf72d31a410b17c16da610a82cb55f6b0477d1a902134b24a455b8b3"
PIP_LOCK = f"six==1.16.0 \\\n    --hash=sha256:{SIX_HASH}\n"


@pytest.mark.parametrize("text", [UV_LOCK, PIP_LOCK, "", "# nothing pinned\n"])
def test_a_lock_of_pins_hashes_and_comments_passes_the_check(text):
    lock_check(text, lock_format=REQUIREMENTS)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (UV_LOCK.replace("iniconfig==", "\x1b[1miniconfig=="), "line 4: control character"),
        ("\x1b[2mResolved 3 packages\x1b[0m\n", "line 1: control character '\\x1b'"),
        ("iniconfig>=2.0\n", "line 1: 'iniconfig>=2.0' is not one exact pin"),
        ("iniconfig==2.0.0 \\\n    --hash=md5:zz\n", "line 1: '--hash=md5:zz' is not a hash"),
        ("iniconfig==2.0.0 \\\n    --hash=sha256:\n", "line 1: '--hash=sha256:' is not a hash"),
        ("Resolved 3 packages in 20ms\n", "line 1: not a requirement"),
        ("-e ./local\n", "line 1: not a requirement"),
    ],
)
def test_a_lock_that_is_not_pins_and_hashes_is_refused_with_its_line(text, reason):
    with pytest.raises(LockInvalid) as refused:
        lock_check(text, lock_format=REQUIREMENTS)

    assert str(refused.value).startswith(reason)


def test_an_npm_lock_must_be_a_package_lock():
    lock_check('{"lockfileVersion": 3, "packages": {}}', lock_format=NPM)
    with pytest.raises(LockInvalid, match="not JSON"):
        lock_check('{"lockfileVersion": 3,', lock_format=NPM)
    with pytest.raises(LockInvalid, match="no lockfileVersion"):
        lock_check("[]", lock_format=NPM)


def test_a_lock_that_fails_the_check_is_never_written(settings):
    with pytest.raises(LockInvalid):
        lock_save("k" * 32, "\x1b[1msix==1.16.0\n", lock_format=REQUIREMENTS)

    assert not lock_path("k" * 32).exists()
    assert not list(lock_path("k" * 32).parent.glob(".k*"))


def test_a_corrupt_kept_lock_is_discarded_when_read():
    lock_path("c" * 32).parent.mkdir(parents=True, exist_ok=True)
    lock_path("c" * 32).write_text("\x1b[1msix==1.16.0\x1b[0m\n")

    assert lock_load("c" * 32, lock_format=REQUIREMENTS) is None
    assert not lock_path("c" * 32).exists()


def kept_lock_of(requirement: str, backend: str = "uv"):
    spec = spec_for(language="python", requirements=[requirement], backend=backend)
    return spec, lock_path(lock_key(spec=spec, resolver=backend))


@pytest.mark.parametrize("backend", ["uv", "pip"])
def test_an_install_over_a_corrupt_kept_lock_succeeds_and_replaces_it(envs_dir, backend):
    requirement = unique_requirement("iniconfig")
    spec, path = kept_lock_of(requirement, backend)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        f"iniconfig==2.0.0 \\\n    --hash=sha256:{INICONFIG_HASH}\n\x1b[2m    # via -r -\x1b[0m\n"
    )

    environment = environment_ensure(language="python", requirements=[requirement], backend=backend)

    assert environment.status == "ready"
    assert path.read_text() == environment.lockfile
    assert "\x1b" not in path.read_text()
    assert path.read_text().startswith("iniconfig==")


def test_a_kept_lock_that_no_longer_installs_is_resolved_once_more(envs_dir):
    # Well formed, but its hash matches no file: what a re-uploaded or tampered artifact, or
    # a lock from another index, looks like to the installer.
    requirement = unique_requirement("iniconfig")
    spec, path = kept_lock_of(requirement)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("iniconfig==2.0.0 \\\n    --hash=sha256:" + "0" * 64 + "\n")

    environment = environment_ensure(language="python", requirements=[requirement])

    assert environment.status == "ready"
    assert "0" * 64 not in path.read_text()
    assert path.read_text() == environment.lockfile
    assert Environment.objects.get(pk=environment.pk).build_count == 1


def test_a_lock_that_installed_but_did_not_verify_is_not_kept(envs_dir):
    # nose 1.3.7 resolves and installs, and fails to import on 3.12 (No module named 'imp').
    requirement = "nose>=1.3.7,<=1.3.7"
    spec, path = kept_lock_of(requirement)

    with pytest.raises(VerificationError):
        environment_ensure(language="python", requirements=[requirement])

    assert not path.exists()
