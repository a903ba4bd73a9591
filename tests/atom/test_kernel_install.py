"""A cold install started from a real Jupyter kernel (where ipykernel sets FORCE_COLOR=1 and
CLICOLOR_FORCE=1 for every child process) keeps a clean lock, which later installs can use."""

import pytest
from django.conf import settings
from jupyter_client import KernelManager

from skills.installer.integrity import locks_verify
from skills.installer.locks import locks_dir
from skills.models import Environment
from tests.conftest import ROOT, environment_for_processes
from tests.skills.installer.conftest import unique_requirement

pytestmark = pytest.mark.django_db(transaction=True, databases="__all__")

CELL = """
import os
import atom
installed = atom.install("colourful", progress=False)
colour = os.environ["FORCE_COLOR"], os.environ["CLICOLOR_FORCE"]
print(*colour, installed.status, installed.cache_hit)
"""


def test_a_cold_install_from_a_kernel_keeps_a_clean_lock(publish):
    publish("colourful", extra="", dependencies=[unique_requirement()])
    env = {**environment_for_processes(), "ATOM_ENVS_DIR": str(settings.ATOM_ENVS_DIR),
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env=env)
    client = manager.client()
    client.start_channels()
    seen = {"stdout": "", "error": ""}

    def collect(message):
        content = message["content"]
        if message["msg_type"] == "stream" and content["name"] == "stdout":
            seen["stdout"] += content["text"]
        elif message["msg_type"] == "error":
            seen["error"] = f"{content['ename']}: {content['evalue']}"

    try:
        client.wait_for_ready(timeout=60)
        client.execute_interactive(CELL, output_hook=collect, timeout=300)
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)

    assert seen["error"] == ""
    assert seen["stdout"].split() == ["1", "1", "succeeded", "False"]
    environment = Environment.objects.get()
    assert environment.status == "ready"
    assert "\x1b" not in environment.lockfile
    kept = [path.read_text() for path in locks_dir().glob("*.lock")]
    assert kept
    assert [text for text in kept if "\x1b" in text] == []
    checked, broken = locks_verify(repair=False)
    assert checked == len(kept)
    assert broken == []
