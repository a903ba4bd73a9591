"""A skill's environment as a Jupyter kernel (`manage.py envs kernel SKILL`).

The kernel's interpreter is the environment's own, so a notebook imports exactly the packages
the skill's runs get. ipykernel is not in that environment and must not be: the environment's
lock and tree are what runs use and what the verifier checks. It goes into an overlay beside it
(`ATOM_DATA_DIR/kernels/<skill>/overlay`, installed by uv for the environment's Python), which
the kernel's launcher appends to `sys.path` after the environment's site-packages, so a package
both have is the skill's. The launcher's folder also holds the skill's current source as
`skill.py`: `import skill` in the notebook, then call `skill.run(...)`.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from importlib.metadata import version as installed_version
from pathlib import Path

from django.conf import settings

from skills.installer.backends import InstallError
from skills.installer.backends.uv import uv_binary, uv_environment
from skills.installer.builder import environment_for_skill_version
from skills.installer.process import LogWriter, run_logged
from skills.models import Skill

LAUNCHER = '''"""Start an IPython kernel in the environment of the Atom skill {slug} (written by
`manage.py envs kernel`; the environment's packages come first, ipykernel's overlay after)."""

import sys

sys.path.append({overlay!r})
sys.path.append({folder!r})
from ipykernel import kernelapp

kernelapp.launch_new_instance()
'''


class KernelRefused(ValueError):
    """A skill whose environment cannot be a kernel here (not Python, built in Docker)."""


@dataclass(frozen=True)
class SkillKernel:
    name: str
    display_name: str
    spec_dir: Path
    python: Path
    environment_key: str


def kernel_name(slug: str) -> str:
    return f"atom-{slug}"


def kernel_folder(slug: str) -> Path:
    return Path(settings.ATOM_DATA_DIR) / "kernels" / slug


def skill_kernel_install(
    *, skill: Skill, prefix: str | None = None, log: LogWriter = lambda line: None
) -> SkillKernel:
    """Build (or find) the skill's environment, put ipykernel in an overlay beside it, and
    install a kernelspec under `prefix` (this interpreter's `sys.prefix` by default, where
    `make notebook`'s JupyterLab looks)."""
    from jupyter_client.kernelspec import KernelSpecManager

    version = skill.current_version
    if version is None:
        raise KernelRefused(f"{skill.slug} has no version")
    if skill.language != "python":
        raise KernelRefused(
            f"{skill.slug} is a {skill.language} skill: only Python runs in ipykernel"
        )
    version.skill = skill
    environment = environment_for_skill_version(skill_version=version)
    python = environment.python_path
    if environment.backend == "docker" or python is None:
        raise KernelRefused(
            f"{skill.slug}'s environment is a Docker image, not a local interpreter"
        )
    folder = kernel_folder(skill.slug)
    overlay = folder / "overlay"
    overlay.mkdir(parents=True, exist_ok=True)
    done = run_logged(
        [
            uv_binary(),
            "pip",
            "install",
            "--python",
            str(python),
            "--target",
            str(overlay),
            f"ipykernel=={installed_version('ipykernel')}",
        ],
        log=log,
        env=uv_environment(),
        timeout=float(settings.ATOM_INSTALL_TIMEOUT),
    )
    if done.returncode != 0:
        raise InstallError(
            f"ipykernel for {skill.slug}: uv exited {done.returncode}", output=done.output
        )
    (folder / "skill.py").write_text(version.source)
    spec_source = folder / "spec"
    spec_source.mkdir(exist_ok=True)
    (spec_source / "launcher.py").write_text(
        LAUNCHER.format(slug=skill.slug, overlay=str(overlay), folder=str(folder))
    )
    display_name = f"{skill.slug} {version.version} (Atom skill)"
    spec = {
        "argv": [str(python), str(spec_source / "launcher.py"), "-f", "{connection_file}"],
        "display_name": display_name,
        "language": "python",
        # Exactly the skill's environment: nothing of the server's path or the user's site.
        "env": {"PYTHONPATH": "", "PYTHONNOUSERSITE": "1", "ATOM_SKILL": skill.slug},
        "metadata": {"atom": {"skill": skill.slug, "environment": environment.key}},
    }
    (spec_source / "kernel.json").write_text(json.dumps(spec, indent=2))
    installed = KernelSpecManager().install_kernel_spec(
        str(spec_source), kernel_name(skill.slug), prefix=prefix or sys.prefix
    )
    return SkillKernel(
        name=kernel_name(skill.slug),
        display_name=display_name,
        spec_dir=Path(installed),
        python=python,
        environment_key=environment.key,
    )


def skill_kernel_remove(*, slug: str, prefix: str | None = None) -> bool:
    """Remove the skill's kernelspec and its overlay; False when there was none."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec_dir = Path(prefix or sys.prefix) / "share" / "jupyter" / "kernels" / kernel_name(slug)
    folder = kernel_folder(slug)
    found = spec_dir.is_dir() or folder.is_dir()
    if spec_dir.is_dir():
        manager = KernelSpecManager()
        manager.kernel_dirs = [str(spec_dir.parent)]
        manager.remove_kernel_spec(kernel_name(slug))
    shutil.rmtree(folder, ignore_errors=True)
    return found
