"""`manage.py envs kernel SKILL`: a Jupyter kernel that runs in exactly the skill's environment
(its packages importable, Atom's not), with ipykernel in an overlay that leaves the environment
and its lock as runs use them; `--remove` takes it away."""

import os
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from jupyter_client import KernelManager
from jupyter_client.kernelspec import KernelSpecManager

from skills.installer.builder import environment_for_skill_version
from skills.models import Environment

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

SIX_USER = "import six\n\ndef run(text):\n    return six.ensure_str(text).upper()\n"


def tree(location: str) -> dict[str, int]:
    root = Path(location)
    return {str(path.relative_to(root)): path.stat().st_size for path in root.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts}  # fmt: skip


def kernel_run(prefix: Path, name: str, code: str) -> dict[str, str]:
    """Start the kernel, run `code`, and return its stdout and any error."""
    specs = KernelSpecManager(kernel_dirs=[str(prefix / "share" / "jupyter" / "kernels")])
    manager = KernelManager(kernel_name=name, kernel_spec_manager=specs)
    manager.start_kernel()
    client = manager.client()
    client.start_channels()
    seen = {"stdout": "", "error": ""}

    def collect(message):
        content = message["content"]
        if message["msg_type"] == "stream":
            seen[content["name"]] = seen.get(content["name"], "") + content["text"]
        elif message["msg_type"] == "error":
            seen["error"] = f"{content['ename']}: {content['evalue']}"

    try:
        client.wait_for_ready(timeout=60)
        client.execute_interactive(code, output_hook=collect, timeout=60)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    return seen


def test_the_kernel_runs_in_the_skills_environment_and_leaves_it_as_runs_use_it(publish, tmp_path):
    skill = publish("six-user", SIX_USER, extra="", dependencies=["six"])
    environment = environment_for_skill_version(skill_version=skill.current_version)
    lock, files = environment.lockfile, tree(environment.location)
    prefix = tmp_path / "prefix"
    out = StringIO()

    call_command("envs", "kernel", "six-user", "--prefix", str(prefix), stdout=out)

    assert out.getvalue().startswith("installed the kernel atom-six-user (six-user 1.0.0")
    seen = kernel_run(
        prefix,
        "atom-six-user",
        "import os, sys, six, skill\n"
        "print(sys.executable)\n"
        "print(six.__file__)\n"
        "print(skill.run('hi'))\n"
        "print(os.environ['ATOM_SKILL'])\n"
        "try:\n    import django\nexcept ImportError:\n    print('no django')\n",
    )
    assert seen["error"] == ""
    python, six_file, answer, marker, django = seen["stdout"].splitlines()
    assert python == str(environment.python_path)
    assert six_file.startswith(environment.location)  # the environment's six, not the overlay's
    assert answer == "HI"
    assert marker == "six-user"
    assert django == "no django"  # exactly the skill's environment: none of Atom's packages
    environment.refresh_from_db()
    assert environment.lockfile == lock
    assert tree(environment.location) == files
    assert Environment.objects.count() == 1


def test_remove_takes_the_kernel_and_its_overlay_away(publish, tmp_path, settings):
    publish("shout")
    prefix = tmp_path / "prefix"
    call_command("envs", "kernel", "shout", "--prefix", str(prefix), stdout=StringIO())
    spec_dir = prefix / "share" / "jupyter" / "kernels" / "atom-shout"
    assert (spec_dir / "kernel.json").is_file()

    out = StringIO()
    call_command("envs", "kernel", "shout", "--remove", "--prefix", str(prefix), stdout=out)

    assert out.getvalue() == "removed the kernel atom-shout\n"
    assert not spec_dir.exists()
    assert not (Path(settings.ATOM_DATA_DIR) / "kernels" / "shout").exists()
    with pytest.raises(CommandError, match="^no kernel for shout to remove$"):
        call_command("envs", "kernel", "shout", "--remove", "--prefix", str(prefix))


def test_an_unknown_skill_is_refused_and_nothing_is_installed(db, tmp_path):
    with pytest.raises(CommandError, match="^no skill 'nothing'$"):
        call_command("envs", "kernel", "nothing", "--prefix", str(tmp_path))
    assert not os.listdir(tmp_path)
